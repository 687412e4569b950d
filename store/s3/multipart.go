package s3

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// putMultipart uploads body in parts, one after another (body is a single
// ReadSeeker), each with its own SHA-256 checked by the server. Nothing is
// visible under key until CompleteMultipartUpload; any failure aborts the
// upload so that no parts are left behind.
func (s *Store) putMultipart(ctx context.Context, key string, body io.ReadSeeker, size int64) (_ string, err error) {
	conditional := s.conditional()
	if !conditional {
		if err := s.checkAbsent(ctx, key); err != nil {
			return "", err
		}
	}
	up, err := s.createUpload(ctx, key)
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if done {
			return
		}
		if aerr := s.abortUpload(ctx, key, up.UploadId); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}()
	parts, err := s.uploadParts(ctx, key, up.UploadId, body, size)
	if err != nil {
		return "", err
	}
	version, err := s.completeUpload(ctx, key, up.UploadId, parts, size, conditional)
	if err != nil {
		return "", err
	}
	done = true
	return version, nil
}

func (s *Store) createUpload(ctx context.Context, key string) (*awss3.CreateMultipartUploadOutput, error) {
	create := &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.prefix + key),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	create.ObjectLockMode, create.ObjectLockRetainUntilDate = s.cfg.ObjectLock.retention(key, time.Now())
	if s.cfg.SSE != "" {
		create.ServerSideEncryption = types.ServerSideEncryption(s.cfg.SSE)
	}
	if s.cfg.SSEKMSKeyID != "" {
		create.SSEKMSKeyId = aws.String(s.cfg.SSEKMSKeyID)
	}
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return nil, fmt.Errorf("s3: put object %s: create multipart upload: %w", key, err)
	}
	return up, nil
}

// abortUpload removes the parts of an upload that will not complete; an
// upload already gone (completed or aborted) is not an error.
func (s *Store) abortUpload(ctx context.Context, key string, uploadID *string) error {
	// The caller's context may be what failed the upload.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*s.cfg.RequestTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.prefix + key), UploadId: uploadID,
	})
	if err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("s3: abort multipart upload of %s (its parts stay until a lifecycle rule removes them): %w", key, err)
	}
	return nil
}

// uploadParts sends body in parts of PartSize, doubled as often as needed
// to stay within maxParts.
func (s *Store) uploadParts(ctx context.Context, key string, uploadID *string, body io.ReadSeeker, size int64) ([]types.CompletedPart, error) {
	partSize := s.cfg.PartSize
	for (size+partSize-1)/partSize > maxParts {
		partSize *= 2
	}
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < size; off, num = off+partSize, num+1 {
		n := min(partSize, size-off)
		out, err := s.client.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:            aws.String(s.cfg.Bucket),
			Key:               aws.String(s.prefix + key),
			UploadId:          uploadID,
			PartNumber:        aws.Int32(num),
			Body:              &section{rs: body, base: off, size: n},
			ContentLength:     aws.Int64(n),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		})
		if err != nil {
			return nil, fmt.Errorf("s3: put object %s: upload part %d: %w", key, num, err)
		}
		parts = append(parts, types.CompletedPart{
			ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumSHA256: out.ChecksumSHA256,
		})
	}
	return parts, nil
}

// completeUpload makes the object visible under key, create-only when
// conditional. nil means the object under key is this upload's, including
// when a retried request finds that an earlier attempt completed it (then
// the version id answered is empty: not known).
func (s *Store) completeUpload(ctx context.Context, key string, uploadID *string, parts []types.CompletedPart, size int64, conditional bool) (string, error) {
	complete := &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.cfg.Bucket),
		Key:             aws.String(s.prefix + key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if conditional {
		complete.IfNoneMatch = aws.String("*")
	}
	actx, attempts := withAttemptCounter(ctx)
	out, err := s.client.CompleteMultipartUpload(actx, complete)
	switch {
	case err == nil:
		return versionOf(out.VersionId), nil
	case attempts.Load() > 1 && isNoSuchUpload(err):
		// An earlier attempt completed the upload and its answer was lost.
		own, oerr := s.hasChecksum(ctx, key, size, compositeChecksum(parts))
		if oerr == nil && own {
			return "", nil
		}
		return "", fmt.Errorf("s3: put object %s: complete multipart upload: %w", key, err)
	case conditional && isPreconditionFailed(err):
		return "", existsAfter(key, attempts.Load() > 1, func() (bool, error) {
			return s.hasChecksum(ctx, key, size, compositeChecksum(parts))
		})
	case conditional && s.cfg.ConditionalWrites == "auto" && isNotImplemented(err):
		s.noConditional.Store(true)
		if err := s.checkAbsent(ctx, key); err != nil {
			return "", err
		}
		complete.IfNoneMatch = nil
		out, err := s.client.CompleteMultipartUpload(ctx, complete)
		if err != nil {
			return "", fmt.Errorf("s3: put object %s: complete multipart upload: %w", key, err)
		}
		return versionOf(out.VersionId), nil
	}
	return "", fmt.Errorf("s3: put object %s: complete multipart upload: %w", key, err)
}

// compositeChecksum is the checksum S3 reports for a multipart object: the
// SHA-256 of the parts' SHA-256s, then "-" and the number of parts.
func compositeChecksum(parts []types.CompletedPart) string {
	h := sha256.New()
	for _, p := range parts {
		sum, err := base64.StdEncoding.DecodeString(aws.ToString(p.ChecksumSHA256))
		if err != nil {
			return ""
		}
		h.Write(sum)
	}
	return fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), len(parts))
}

func isNoSuchUpload(err error) bool {
	code, _ := errorCode(err)
	return code == "NoSuchUpload"
}
