package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/logship/logship/store"
)

// The bucket check (HeadBucket, and a listing to explain a bare 403 or
// 404) turns a wrong bucket, key, secret, region or endpoint into one
// actionable ErrConfig line. Open runs it first, unless the configuration
// defers it (Config.DeferBucketCheck): wal-push is one process per segment,
// and the check is one more round trip each time that almost always
// answers "fine". Deferred, it runs at most once, and only when a request
// fails in a way the configuration could explain; its answer then replaces
// the request's error, so that the user sees the same message either way.

// deferredCheck is the state of a deferred bucket check.
type deferredCheck struct {
	mu   sync.Mutex
	done bool  // the check answered: the bucket is fine, or err says why not
	err  error // the configuration error it found, returned from then on
}

// inCheckKey marks the requests of the check itself, which must not start
// another one.
type inCheckKey struct{}

// checkBucket is the bucket check: nil when the bucket is there and the
// credentials may use it, an error wrapping store.ErrConfig when the
// configuration is wrong, another error when the server could not say.
func (s *Store) checkBucket(ctx context.Context) error {
	ctx = context.WithValue(ctx, inCheckKey{}, true)
	_, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err == nil {
		return nil
	}
	if _, status := errorCode(err); status == http.StatusForbidden || status == http.StatusBadRequest || status == http.StatusNotFound {
		// HEAD answers carry no body, so a 403 cannot tell a wrong key
		// from a missing permission, nor a 404 a missing bucket from an
		// unknown key (versitygw); a listing's error body can.
		_, lerr := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
			Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.prefix), MaxKeys: aws.Int32(1),
		})
		if lerr != nil {
			if code, _ := errorCode(lerr); code != "" {
				err = lerr
			}
		}
	}
	if cerr := bucketError(s.cfg, s.endpoint, err); cerr != nil {
		return cerr
	}
	return fmt.Errorf("s3: check bucket %s: %w", s.cfg.Bucket, err)
}

// deferredCheckMiddleware runs the deferred bucket check when a request
// fails, outside the retry loop (so on the request's final error).
func (s *Store) deferredCheckMiddleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("logshipDeferredBucketCheck",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if err != nil && s.cfg.DeferBucketCheck && ctx.Value(inCheckKey{}) == nil {
				err = s.explain(ctx, err)
			}
			return out, md, err
		}), middleware.Before)
}

// explain answers err, the final error of a request, or the configuration
// error that the bucket check finds behind it.
func (s *Store) explain(ctx context.Context, err error) error {
	code, status := errorCode(err)
	// A create-only write that found its key taken, a server error: not
	// the configuration's doing (bucketError says nil), nor is an absent key.
	if bucketError(s.cfg, s.endpoint, err) == nil || isAbsentKey(code, status) {
		return err
	}
	s.check.mu.Lock()
	defer s.check.mu.Unlock()
	if !s.check.done {
		if status == 0 {
			// Unreachable: checking would only wait for the same
			// failure again.
			s.check.done, s.check.err = true, bucketError(s.cfg, s.endpoint, err)
		} else if cerr := s.checkBucket(ctx); cerr == nil || errors.Is(cerr, store.ErrConfig) {
			s.check.done, s.check.err = true, cerr
		}
	}
	if s.check.err != nil {
		return s.check.err
	}
	return err
}

// isAbsentKey is an answer about a key, not the bucket: an absent key,
// version or upload, or a HEAD's bare 404, which the caller confirms with a
// GET (whose NoSuchBucket, if that is the cause, comes back here).
func isAbsentKey(code string, status int) bool {
	switch code {
	case "NoSuchKey", "NoSuchVersion", "NoSuchUpload":
		return true
	}
	return status == http.StatusNotFound && (code == "" || code == "NotFound")
}
