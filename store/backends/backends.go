// Package backends opens a store from its URL. It is the one place that
// knows every backend, so that adding one is a visible change here rather
// than a hidden registration.
package backends

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
	"github.com/logship/logship/store/s3"
)

// Options are the backend settings that do not fit in a URL. Credentials
// are deliberately absent: S3 takes them from the standard AWS chain.
type Options struct {
	S3Endpoint    string
	S3Region      string
	S3PathStyle   bool
	S3SSE         string
	S3SSEKMSKeyID string
	// S3ObjectLock is --s3-object-lock, MODE:DAYS or "" for none: the
	// Object Lock retention of every object written except those
	// S3LockExempt names (the transient ones logship deletes itself).
	S3ObjectLock string
	S3LockExempt s3.KeyMatcher
	// S3ReadOriginal (--s3-read-original) reads each key's oldest version
	// of a versioned bucket: what logship wrote, before any overwrite or
	// delete.
	S3ReadOriginal bool
	// S3RequestTimeout bounds each attempt of each request; 0 = the
	// backend's default.
	S3RequestTimeout time.Duration
	// S3DeferBucketCheck leaves out the bucket check at open (one request)
	// unless a request fails: for wal-push, which opens the store for every
	// segment.
	S3DeferBucketCheck bool
	// Logger receives the backend's own messages (the AWS SDK's warnings).
	Logger *slog.Logger
}

// Open returns the store named by rawURL: file:///path (or /path) or
// s3://bucket/prefix.
func Open(ctx context.Context, rawURL string, opts Options) (store.Store, error) {
	switch {
	case rawURL == "":
		return nil, fmt.Errorf("%w: no store given: set --store, LOGSHIP_STORE or 'store:' in the config file", store.ErrConfig)
	case strings.HasPrefix(rawURL, "file:") || strings.HasPrefix(rawURL, "/"):
		if opts.S3ObjectLock != "" || opts.S3ReadOriginal {
			return nil, fmt.Errorf("%w: --s3-object-lock and --s3-read-original apply to an s3:// store only", store.ErrConfig)
		}
		root, err := file.ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		return file.Open(root)
	case strings.HasPrefix(strings.ToLower(rawURL), "s3:"):
		cfg, err := s3.ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		cfg.Endpoint, cfg.Region, cfg.PathStyle = opts.S3Endpoint, opts.S3Region, opts.S3PathStyle
		cfg.SSE, cfg.SSEKMSKeyID = opts.S3SSE, opts.S3SSEKMSKeyID
		cfg.RequestTimeout = opts.S3RequestTimeout
		if cfg.ObjectLock, err = s3.ParseObjectLock(opts.S3ObjectLock); err != nil {
			return nil, err
		}
		cfg.ObjectLock.Exempt = opts.S3LockExempt
		cfg.ReadOriginal = opts.S3ReadOriginal
		cfg.DeferBucketCheck = opts.S3DeferBucketCheck
		cfg.Logger = opts.Logger
		return s3.Open(ctx, cfg)
	default:
		return nil, fmt.Errorf("%w: bad store URL %q: want file:///absolute/path or s3://bucket/prefix", store.ErrConfig, store.RedactURL(rawURL))
	}
}

// RedactURL is store.RedactURL, for callers that name a store URL in a
// message and otherwise reach the store only through the catalog.
func RedactURL(raw string) string { return store.RedactURL(raw) }
