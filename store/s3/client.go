package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/logship/logship/store"
)

// newClient builds the SDK client. Credentials and region come from the
// standard AWS chain; only the region falls back to a default. extra are
// more middleware for every operation.
func newClient(ctx context.Context, cfg Config, extra ...func(*middleware.Stack) error) (*awss3.Client, aws.CredentialsProvider, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	opts = append(opts,
		config.WithHTTPClient(newHTTPClient(cfg.RequestTimeout)),
		config.WithRetryer(func() aws.Retryer { return newRetryer(cfg.MaxAttempts) }),
	)
	if cfg.Logger != nil {
		opts = append(opts, config.WithLogger(sdkLogger{cfg.Logger}))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// These errors name files and profiles, never secrets.
		return nil, nil, fmt.Errorf("%w: load AWS configuration: %w", store.ErrConfig, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle || needsPathStyle(cfg.Endpoint, o.BaseEndpoint)
		// Ranged reads and composite multipart checksums cannot be checked
		// by the SDK; the object format checks content anyway, so the
		// warning would only be noise in the logs.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.APIOptions = append(o.APIOptions, addAttemptTimeout(cfg.RequestTimeout))
		o.APIOptions = append(o.APIOptions, extra...)
	})
	return client, awsCfg.Credentials, nil
}

// needsPathStyle tells whether the endpoint is one where virtual-host
// addressing (bucket.host) cannot resolve.
func needsPathStyle(endpoint string, base *string) bool {
	if endpoint == "" && base != nil {
		endpoint = *base
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	return host == "localhost" || net.ParseIP(host) != nil
}

// newHTTPClient makes a client that cannot hang on a silent connection:
// every read (response headers or body) fails after timeout without a byte,
// and connecting has its own bound.
func newHTTPClient(timeout time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithReadTimeout(timeout).
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = min(timeout, 10*time.Second)
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = timeout
			tr.TLSHandshakeTimeout = min(timeout, 10*time.Second)
			// Parallel archiving and prefetching talk to one host.
			tr.MaxIdleConnsPerHost = 32
		})
}

func newRetryer(maxAttempts int) aws.Retryer {
	r := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = 5 * time.Second
		// The client-side retry quota would turn a burst of resets into
		// failures without a single retry; attempts are bounded anyway.
		o.RateLimiter = ratelimit.None
	})
	// S3 answers 409 ConditionalRequestConflict when a conditional write
	// races another one on the same key; the retry then gets 412 or wins.
	// A checksum mismatch is a transfer corrupted on the way: the server
	// stored nothing, and the next attempt sends the bytes again.
	return retry.AddWithErrorCodes(r, "ConditionalRequestConflict", "BadDigest", "XAmzContentSHA256Mismatch")
}

// attemptsKey counts the attempts of one request, for a create-only Put to
// tell "someone else made this key" from "my own earlier attempt did".
type attemptsKey struct{}

func withAttemptCounter(ctx context.Context) (context.Context, *atomic.Int32) {
	n := new(atomic.Int32)
	return context.WithValue(ctx, attemptsKey{}, n), n
}

// addAttemptTimeout puts a deadline on each attempt of a request, inside
// the retry loop, so that a blackholed attempt is retried rather than
// hanging or using up the caller's whole deadline. GetObject is left out:
// its body is read after the call returns; it relies on the read timeout.
func addAttemptTimeout(timeout time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("logshipAttemptTimeout",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if n, ok := ctx.Value(attemptsKey{}).(*atomic.Int32); ok {
					n.Add(1)
				}
				if middleware.GetOperationName(ctx) == "GetObject" {
					return next.HandleFinalize(ctx, in)
				}
				actx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				out, md, err := next.HandleFinalize(actx, in)
				if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
					// The SDK takes a cancelled context as the caller
					// giving up and would not retry.
					err = &attemptTimeoutError{timeout: timeout}
				}
				return out, md, err
			}), "Retry", middleware.After)
	}
}

// attemptTimeoutError is one attempt running out of time; the retryer
// tries again.
type attemptTimeoutError struct{ timeout time.Duration }

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("no answer within the request timeout of %s", e.timeout)
}
func (e *attemptTimeoutError) RetryableError() bool { return true }
func (e *attemptTimeoutError) Timeout() bool        { return true }
func (e *attemptTimeoutError) Unwrap() error        { return context.DeadlineExceeded }
