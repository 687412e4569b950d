package s3

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logship/logship/store"
)

// deleteVersions is Delete with --s3-object-lock, for data keys: on a
// versioned bucket a plain delete only hides the key behind a delete
// marker, so purge would free nothing. It hides the key first (so that a
// purge cut short leaves the same view as before), then deletes each
// version; those under retention stay and are reported as a
// *store.RetainedError with the latest retain-until date. Once no version
// is left, the delete markers go too.
func (s *Store) deleteVersions(ctx context.Context, key string) error {
	full := s.prefix + key
	if _, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(full)}); err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("s3: delete object %s: %w", key, err)
	}
	var versions, markers []*string
	pages := awss3.NewListObjectVersionsPaginator(s.client, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(full),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: list versions of %s: %w", key, err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == full {
				versions = append(versions, v.VersionId)
			}
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == full {
				markers = append(markers, m.VersionId)
			}
		}
	}
	var until time.Time
	for _, id := range versions {
		err := s.deleteVersion(ctx, full, id)
		if err == nil {
			continue
		}
		t, ok := s.retainedUntil(ctx, full, id, err)
		if !ok {
			return fmt.Errorf("s3: delete version %s of %s: %w", aws.ToString(id), key, err)
		}
		if t.After(until) {
			until = t
		}
	}
	if !until.IsZero() {
		return &store.RetainedError{Key: key, Until: until}
	}
	for _, id := range markers {
		if err := s.deleteVersion(ctx, full, id); err != nil {
			return fmt.Errorf("s3: delete marker %s of %s: %w", aws.ToString(id), key, err)
		}
	}
	return nil
}

func (s *Store) deleteVersion(ctx context.Context, full string, id *string) error {
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(full), VersionId: id})
	return err
}

// retainedUntil tells whether a refused version delete is an Object Lock
// retention still running, and until when.
func (s *Store) retainedUntil(ctx context.Context, full string, id *string, derr error) (time.Time, bool) {
	if code, _ := errorCode(derr); code != "AccessDenied" && !strings.Contains(derr.Error(), "object lock") {
		return time.Time{}, false
	}
	out, err := s.client.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(full), VersionId: id})
	if err != nil || out.Retention == nil || out.Retention.RetainUntilDate == nil || !out.Retention.RetainUntilDate.After(time.Now()) {
		return time.Time{}, false
	}
	return *out.Retention.RetainUntilDate, true
}
