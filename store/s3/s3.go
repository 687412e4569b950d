package s3

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logship/logship/store"
)

// Store is a store.Store in an S3 bucket, under a prefix.
type Store struct {
	cfg    Config
	client *awss3.Client
	prefix string // cfg.Prefix + "/", or "" for the whole bucket
	// endpoint is the server's URL when not AWS's default, for messages.
	endpoint string
	check    deferredCheck // with cfg.DeferBucketCheck

	// noConditional is set when ConditionalWrites is "auto" and the server
	// refused If-None-Match as not implemented.
	noConditional atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the bucket and checks that it is there and that the
// credentials may use it (with DeferBucketCheck, only once a request
// fails: bucketcheck.go). Configuration problems come back as errors
// wrapping store.ErrConfig with a one-line message saying what to fix.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg}
	client, creds, err := newClient(ctx, cfg, s.deferredCheckMiddleware)
	if err != nil {
		return nil, err
	}
	s.client = client
	s.endpoint = cfg.Endpoint
	if s.endpoint == "" && client.Options().BaseEndpoint != nil {
		s.endpoint = *client.Options().BaseEndpoint
	}
	if cfg.Prefix != "" {
		s.prefix = cfg.Prefix + "/"
	}

	if _, err := creds.Retrieve(ctx); err != nil {
		return nil, &configError{
			msg: "s3: no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with a web identity or instance role",
			err: err,
		}
	}
	if cfg.DeferBucketCheck {
		return s, nil
	}
	if err := s.checkBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// ID names the store for a cache of what it holds: String, with the
// endpoint and region, since two servers may each have a bucket of that
// name.
func (s *Store) ID() string {
	return s.String() + " " + s.endpoint + " " + s.client.Options().Region
}

// String names the store as s3://bucket/prefix.
func (s *Store) String() string {
	if s.cfg.Prefix == "" {
		return "s3://" + s.cfg.Bucket
	}
	return "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix
}

func (s *Store) conditional() bool {
	return s.cfg.ConditionalWrites == "on" ||
		s.cfg.ConditionalWrites == "auto" && !s.noConditional.Load()
}

// Put creates key with If-None-Match: * so that an existing object is never
// replaced, with a SHA-256 checksum the server checks before it stores
// anything; objects over PartSize go up in parts.
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	_, err := s.PutVersion(ctx, key, body, size)
	return err
}

// PutVersion is Put that answers the version id S3 gave the new object
// (empty on an unversioned bucket, or when a retry found the object stored
// by an earlier attempt whose answer was lost: see store.VersionedStore).
func (s *Store) PutVersion(ctx context.Context, key string, body io.ReadSeeker, size int64) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("s3: put object: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("s3: put object %s: %w", key, err)
	}
	if size < 0 {
		return "", fmt.Errorf("s3: put object %s: negative size %d", key, size)
	}
	// The Content-Length header must be right before the first byte goes
	// out; a body of another length is the caller's bug, caught here.
	n, err := body.Seek(0, io.SeekEnd)
	if err != nil {
		return "", fmt.Errorf("s3: put object %s: size body: %w", key, err)
	}
	if n != size {
		return "", fmt.Errorf("s3: put object %s: body has %d bytes, want %d", key, n, size)
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("s3: put object %s: rewind body: %w", key, err)
	}
	if size > s.cfg.PartSize {
		return s.putMultipart(ctx, key, body, size)
	}
	return s.putSingle(ctx, key, body, size)
}

func (s *Store) putSingle(ctx context.Context, key string, body io.ReadSeeker, size int64) (string, error) {
	conditional := s.conditional()
	if !conditional {
		if err := s.checkAbsent(ctx, key); err != nil {
			return "", err
		}
	}
	in := &awss3.PutObjectInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.prefix + key),
		Body:              &section{rs: body, size: size},
		ContentLength:     aws.Int64(size),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if conditional {
		in.IfNoneMatch = aws.String("*")
	}
	in.ObjectLockMode, in.ObjectLockRetainUntilDate = s.cfg.ObjectLock.retention(key, time.Now())
	if s.cfg.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.cfg.SSE)
	}
	if s.cfg.SSEKMSKeyID != "" {
		in.SSEKMSKeyId = aws.String(s.cfg.SSEKMSKeyID)
	}
	actx, attempts := withAttemptCounter(ctx)
	out, err := s.client.PutObject(actx, in)
	switch {
	case err == nil:
		return versionOf(out.VersionId), nil
	case conditional && isPreconditionFailed(err):
		// Our own earlier attempt, maybe: its version id is not known.
		return "", existsAfter(key, attempts.Load() > 1, func() (bool, error) {
			return s.isOwnSingle(ctx, key, body, size)
		})
	case conditional && s.cfg.ConditionalWrites == "auto" && isNotImplemented(err):
		s.noConditional.Store(true)
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("s3: put object %s: rewind body: %w", key, err)
		}
		return s.putSingle(ctx, key, body, size)
	}
	return "", fmt.Errorf("s3: put object %s: %w", key, err)
}

// versionOf is the version id to record from S3's answer. "null" is the id
// of the one object of an unversioned or versioning-suspended key, which a
// later write replaces: it pins nothing, so it is not recorded.
func versionOf(id *string) string {
	if v := aws.ToString(id); v != "null" {
		return v
	}
	return ""
}

// checkAbsent is the check of ConditionalWrites "off": racy, but the best
// a server without If-None-Match allows.
func (s *Store) checkAbsent(ctx context.Context, key string) error {
	_, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.prefix + key),
	})
	switch {
	case err == nil:
		return fmt.Errorf("s3: put object %s: %w", key, store.ErrExist)
	case isHeadNotFound(err):
		return nil
	}
	return fmt.Errorf("s3: put object %s: check for an existing object: %w", key, err)
}

// existsAfter answers a create-only write refused because key exists
// (412). After a retry the object may be this write's own, stored by an
// earlier attempt whose answer was lost on the way back: own tells.
func existsAfter(key string, retried bool, own func() (bool, error)) error {
	if retried {
		ok, err := own()
		if err != nil {
			return fmt.Errorf("s3: put object %s: exists after a retry, and checking it failed: %w", key, err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("s3: put object %s: %w", key, store.ErrExist)
}

// isOwnSingle tells whether the object that made a retried Put fail with
// 412 is the one an earlier attempt of the same Put stored (its answer lost
// on the way back), by comparing its stored SHA-256 with the body's.
func (s *Store) isOwnSingle(ctx context.Context, key string, body io.ReadSeeker, size int64) (bool, error) {
	h := sha256.New()
	if _, err := io.Copy(h, &section{rs: body, size: size}); err != nil {
		return false, err
	}
	return s.hasChecksum(ctx, key, size, base64.StdEncoding.EncodeToString(h.Sum(nil)))
}

func (s *Store) hasChecksum(ctx context.Context, key string, size int64, sum string) (bool, error) {
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket:       aws.String(s.cfg.Bucket),
		Key:          aws.String(s.prefix + key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return false, err
	}
	return aws.ToInt64(out.ContentLength) == size && aws.ToString(out.ChecksumSHA256) == sum, nil
}

// Stat describes key. HEAD cannot tell a missing key from a missing bucket
// (a 404 without a body), so a 404 is confirmed with a GET before it is
// reported as ErrNotExist.
func (s *Store) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("s3: stat object: %w", err)
	}
	if s.cfg.ReadOriginal {
		return s.statOriginal(ctx, key)
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.prefix + key),
	})
	if err == nil {
		return store.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
	}
	if !isHeadNotFound(err) {
		return store.ObjectInfo{}, fmt.Errorf("s3: stat object %s: %w", key, err)
	}
	get, gerr := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.prefix + key),
	})
	switch {
	case gerr == nil:
		get.Body.Close()
		return store.ObjectInfo{Key: key, Size: aws.ToInt64(get.ContentLength), ModTime: aws.ToTime(get.LastModified)}, nil
	case isNoSuchKey(gerr):
		return store.ObjectInfo{}, fmt.Errorf("s3: stat object %s: %w", key, store.ErrNotExist)
	}
	return store.ObjectInfo{}, fmt.Errorf("s3: stat object %s: %w", key, gerr)
}

// List walks the keys under prefix with ListObjectsV2, a page of 1000 at a
// time; S3 lists in ascending UTF-8 byte order, which for the keys of
// package store is byte order.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	if s.cfg.ReadOriginal {
		return s.listOriginal(ctx, prefix, fn)
	}
	pages := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket:  aws.String(s.cfg.Bucket),
		Prefix:  aws.String(s.prefix + prefix),
		MaxKeys: aws.Int32(1000),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: list %s: %w", prefix, err)
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), s.prefix)
			if !ok || key == "" || strings.HasSuffix(key, "/") {
				// Folder markers that consoles create are not objects
				// of this store.
				continue
			}
			err := fn(store.ObjectInfo{Key: key, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes key; S3 answers success for an absent key too. With
// --s3-object-lock a data key's versions go too (versions.go).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("s3: delete object: %w", err)
	}
	if s.cfg.ObjectLock.Mode != "" && (s.cfg.ObjectLock.Exempt == nil || !s.cfg.ObjectLock.Exempt.Match(key)) {
		return s.deleteVersions(ctx, key)
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.prefix + key),
	})
	if err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("s3: delete object %s: %w", key, err)
	}
	return nil
}

// section is the part [base, base+size) of a ReadSeeker, itself seekable so
// that the SDK can rewind it for a retry.
type section struct {
	rs         io.ReadSeeker
	base, size int64
	off        int64
	synced     bool // rs is at base+off
}

func (s *section) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if !s.synced {
		if _, err := s.rs.Seek(s.base+s.off, io.SeekStart); err != nil {
			return 0, err
		}
		s.synced = true
	}
	if rest := s.size - s.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := s.rs.Read(p)
	s.off += int64(n)
	if errors.Is(err, io.EOF) && s.off < s.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (s *section) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("section: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("section: negative position")
	}
	s.off = offset
	s.synced = false
	return offset, nil
}
