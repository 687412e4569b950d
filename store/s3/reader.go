package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logship/logship/store"
)

// Get opens key for reading. The SDK retries requests but not the reading
// of a response body, so the reader resumes a cut download itself with a
// Range request from the byte it reached, pinned to the same object with
// If-Match on its ETag.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.GetVersion(ctx, key, "")
}

var _ store.VersionedStore = (*Store)(nil)

// GetVersion reads exactly the version versionID of key (the one PutVersion
// answered), whatever was overwritten or deleted since; an empty versionID
// is Get (with ReadOriginal, the oldest version).
//
// With ReadOriginal, a versionID other than the key's oldest version is
// answered ErrNotExist: logship's write is the oldest version, so another
// id comes from a record that someone else added, which recovery must not
// follow.
func (s *Store) GetVersion(ctx context.Context, key, versionID string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("s3: get object: %w", err)
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.prefix + key)}
	switch {
	case s.cfg.ReadOriginal:
		o, err := s.originalOf(ctx, key)
		if err != nil {
			return nil, err
		}
		if versionID != "" && versionID != o.versionID {
			return nil, fmt.Errorf("s3: get object %s: version %s is not the one first written: %w", key, versionID, store.ErrNotExist)
		}
		in.VersionId = aws.String(o.versionID)
	case versionID != "":
		in.VersionId = aws.String(versionID)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if isNoSuchKey(err) || (versionID != "" && isNoSuchVersion(err)) {
			return nil, fmt.Errorf("s3: get object %s: %w", key, store.ErrNotExist)
		}
		return nil, fmt.Errorf("s3: get object %s: %w", key, err)
	}
	if out.ContentLength == nil {
		out.Body.Close()
		return nil, fmt.Errorf("s3: get object %s: answer has no Content-Length", key)
	}
	return &reader{
		s: s, ctx: ctx, key: key,
		body: out.Body, size: *out.ContentLength, etag: aws.ToString(out.ETag),
		versionID: in.VersionId,
	}, nil
}

type reader struct {
	s    *Store
	ctx  context.Context
	key  string
	etag string
	// versionID pins the resumes to the version read (GetVersion,
	// ReadOriginal).
	versionID *string

	body     io.ReadCloser // nil between a failure and the resume
	off      int64         // bytes handed to the caller
	size     int64
	failures int   // failed reads and resumes since the last byte came
	err      error // sticky
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		if r.body == nil {
			if err := r.resume(); err != nil {
				r.failures++
				if r.ctx.Err() != nil || errors.Is(err, errChanged) || r.failures > r.s.cfg.MaxAttempts {
					return 0, r.fail(fmt.Errorf("read stopped at byte %d of %d after %d attempts: %w", r.off, r.size, r.failures, err))
				}
				if err := r.wait(); err != nil {
					return 0, r.fail(err)
				}
				continue
			}
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if n > 0 {
			r.failures = 0
		}
		switch {
		case r.off > r.size:
			return 0, r.fail(fmt.Errorf("got more than the %d bytes announced", r.size))
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && r.off == r.size:
			return n, io.EOF
		case r.off == r.size:
			// All bytes came, then an error: a failed end-of-body check
			// (checksum), not a cut transfer; resuming cannot fix it.
			return n, r.fail(err)
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF
		}
		r.body.Close()
		r.body = nil
		if cerr := r.ctx.Err(); cerr != nil {
			return n, r.fail(cerr)
		}
		r.failures++
		if r.failures > r.s.cfg.MaxAttempts {
			return n, r.fail(fmt.Errorf("read stopped at byte %d of %d after %d attempts: %w", r.off, r.size, r.failures, err))
		}
		if n > 0 {
			return n, nil
		}
		if err := r.wait(); err != nil {
			return 0, r.fail(err)
		}
	}
}

// errChanged is a resume that found the object replaced or deleted: the
// bytes read so far cannot be completed.
var errChanged = errors.New("object changed or deleted while it was read")

func (r *reader) resume() error {
	in := &awss3.GetObjectInput{
		Bucket:    aws.String(r.s.cfg.Bucket),
		Key:       aws.String(r.s.prefix + r.key),
		Range:     aws.String(fmt.Sprintf("bytes=%d-", r.off)),
		VersionId: r.versionID,
	}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
	}
	out, err := r.s.client.GetObject(r.ctx, in, func(o *awss3.Options) {
		// Read retries the resume itself, with its own bound.
		o.RetryMaxAttempts = 1
	})
	if err != nil {
		if isNoSuchKey(err) || isPreconditionFailed(err) {
			// Never ErrNotExist: the object was there when the read began.
			return fmt.Errorf("%w (%v)", errChanged, err)
		}
		return err
	}
	if want := r.size - r.off; aws.ToInt64(out.ContentLength) != want {
		out.Body.Close()
		return fmt.Errorf("%w: resume at byte %d got %d bytes, want %d", errChanged, r.off, aws.ToInt64(out.ContentLength), want)
	}
	r.body = out.Body
	return nil
}

// wait backs off before a resume that follows a failure without progress;
// the first resume after progress goes at once.
func (r *reader) wait() error {
	if r.failures <= 1 {
		return nil
	}
	d := min(100*time.Millisecond<<(r.failures-2), 2*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

func (r *reader) fail(err error) error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.err = fmt.Errorf("s3: get object %s: %w", r.key, err)
	return r.err
}

func (r *reader) Close() error {
	if r.body != nil {
		err := r.body.Close()
		r.body = nil
		return err
	}
	return nil
}
