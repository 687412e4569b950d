package s3

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logship/logship/store"
)

// putMultipart uploads body in parts, one after another (body is a single
// ReadSeeker), each with its own SHA-256 checked by the server. Nothing is
// visible under key until CompleteMultipartUpload; any failure aborts the
// upload so that no parts are left behind.
func (s *Store) putMultipart(ctx context.Context, key string, body io.ReadSeeker, size int64) (err error) {
	conditional := s.conditional()
	if !conditional {
		if err := s.checkAbsent(ctx, key); err != nil {
			return err
		}
	}
	partSize := s.cfg.PartSize
	for (size+partSize-1)/partSize > maxParts {
		partSize *= 2
	}

	create := &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.prefix + key),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if s.cfg.SSE != "" {
		create.ServerSideEncryption = types.ServerSideEncryption(s.cfg.SSE)
	}
	if s.cfg.SSEKMSKeyID != "" {
		create.SSEKMSKeyId = aws.String(s.cfg.SSEKMSKeyID)
	}
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return fmt.Errorf("s3: put object %s: create multipart upload: %w", key, err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		// The caller's context may be what failed the upload.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*s.cfg.RequestTimeout)
		defer cancel()
		_, aerr := s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.prefix + key), UploadId: up.UploadId,
		})
		if aerr != nil && !isNoSuchUpload(aerr) {
			err = errors.Join(err, fmt.Errorf("s3: abort multipart upload of %s (its parts stay until a lifecycle rule removes them): %w", key, aerr))
		}
	}()

	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < size; off, num = off+partSize, num+1 {
		n := min(partSize, size-off)
		out, err := s.client.UploadPart(ctx, &awss3.UploadPartInput{
			Bucket:            aws.String(s.cfg.Bucket),
			Key:               aws.String(s.prefix + key),
			UploadId:          up.UploadId,
			PartNumber:        aws.Int32(num),
			Body:              &section{rs: body, base: off, size: n},
			ContentLength:     aws.Int64(n),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		})
		if err != nil {
			return fmt.Errorf("s3: put object %s: upload part %d: %w", key, num, err)
		}
		parts = append(parts, types.CompletedPart{
			ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumSHA256: out.ChecksumSHA256,
		})
	}

	complete := &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.cfg.Bucket),
		Key:             aws.String(s.prefix + key),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if conditional {
		complete.IfNoneMatch = aws.String("*")
	}
	actx, attempts := withAttemptCounter(ctx)
	_, err = s.client.CompleteMultipartUpload(actx, complete)
	switch {
	case err == nil:
		done = true
		return nil
	case attempts.Load() > 1 && isNoSuchUpload(err):
		// An earlier attempt completed the upload and its answer was lost.
		own, oerr := s.hasChecksum(ctx, key, size, compositeChecksum(parts))
		if oerr == nil && own {
			done = true
			return nil
		}
		return fmt.Errorf("s3: put object %s: complete multipart upload: %w", key, err)
	case conditional && isPreconditionFailed(err):
		if attempts.Load() > 1 {
			own, oerr := s.hasChecksum(ctx, key, size, compositeChecksum(parts))
			if oerr != nil {
				return fmt.Errorf("s3: put object %s: exists after a retry, and checking it failed: %w", key, oerr)
			}
			if own {
				done = true
				return nil
			}
		}
		return fmt.Errorf("s3: put object %s: %w", key, store.ErrExist)
	case conditional && s.cfg.ConditionalWrites == "auto" && isNotImplemented(err):
		s.noConditional.Store(true)
		if err := s.checkAbsent(ctx, key); err != nil {
			return err
		}
		complete.IfNoneMatch = nil
		if _, err := s.client.CompleteMultipartUpload(ctx, complete); err != nil {
			return fmt.Errorf("s3: put object %s: complete multipart upload: %w", key, err)
		}
		done = true
		return nil
	}
	return fmt.Errorf("s3: put object %s: complete multipart upload: %w", key, err)
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
