package s3

import (
	"errors"
	"net"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/logship/logship/store"
)

// errorCode returns the S3 error code and HTTP status of err, or "" and 0
// when the server never answered.
func errorCode(err error) (string, int) {
	code, status := "", 0
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

// isNoSuchKey is the positive answer "no such object" to a request that
// carries an error body (GET). A bare 404 is not enough: it could also mean
// a missing bucket.
func isNoSuchKey(err error) bool {
	code, _ := errorCode(err)
	return code == "NoSuchKey"
}

// isNoSuchVersion is GET's answer for a version id the key does not have
// (a version deleted, or never written).
func isNoSuchVersion(err error) bool {
	code, _ := errorCode(err)
	return code == "NoSuchVersion"
}

// isHeadNotFound is HEAD's 404, which has no body to tell a missing key
// from a missing bucket.
func isHeadNotFound(err error) bool {
	code, status := errorCode(err)
	return status == http.StatusNotFound && (code == "NotFound" || code == "NoSuchKey" || code == "")
}

// isPreconditionFailed is the answer to If-None-Match: * when the key exists.
func isPreconditionFailed(err error) bool {
	code, status := errorCode(err)
	return code == "PreconditionFailed" || status == http.StatusPreconditionFailed
}

// isNotImplemented is how a server without conditional writes refuses
// If-None-Match.
func isNotImplemented(err error) bool {
	code, status := errorCode(err)
	return code == "NotImplemented" || status == http.StatusNotImplemented
}

// configError is an error the user has to fix in the configuration. Its
// message is one actionable line; the cause stays reachable with errors.As.
type configError struct {
	msg string
	err error
}

func (e *configError) Error() string   { return e.msg }
func (e *configError) Unwrap() []error { return []error{store.ErrConfig, e.err} }

// bucketError explains why the bucket check failed. It returns nil when
// the failure is not one the user can fix in the configuration (a server
// error that outlasted the retries), so that the caller wraps it plainly.
func bucketError(cfg Config, endpoint string, err error) error {
	code, status := errorCode(err)
	where := "s3://" + cfg.Bucket
	if endpoint != "" {
		where += " at " + endpoint
	}
	var msg string
	switch {
	case code == "InvalidAccessKeyId" || code == "XAdminUserNotFound":
		msg = "the server does not know the AWS access key ID; check AWS_ACCESS_KEY_ID, AWS_PROFILE or the shared credentials file"
	case code == "SignatureDoesNotMatch":
		msg = "the AWS secret access key does not match the access key ID; check AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the shared credentials file"
	case code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired":
		msg = "the AWS session token is expired or invalid; refresh the credentials"
	case code == "RequestTimeTooSkewed":
		msg = "the clock of this machine is too far from the server's; fix the system time"
	case code == "NoSuchBucket" || code == "NotFound" || status == http.StatusNotFound:
		msg = "bucket " + where + " does not exist; create it or fix the store URL"
	case code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || status == http.StatusMovedPermanently:
		msg = "bucket " + where + " is in another region; set the region (AWS_REGION or the region setting)"
	case code == "AccessDenied" || code == "AllAccessDisabled" || status == http.StatusForbidden:
		msg = "access to bucket " + where + " is denied; the credentials need s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on it"
	case status == 0 && isUnreachable(err):
		msg = "cannot reach the S3 endpoint for " + where + ": " + oneLine(rootCause(err))
	default:
		return nil
	}
	return &configError{msg: "s3: " + msg, err: err}
}

// isUnreachable tells a wrong endpoint: an unknown host, or a connection
// that could not be made. A connection the server reset, or an answer that
// timed out, is the server failing, not the configuration (exit 1, not 2).
func isUnreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) || errors.As(err, &opErr) && opErr.Op == "dial"
}

func rootCause(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr
	}
	return err
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
