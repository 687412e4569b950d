package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logship/logship/store"
)

var _ store.Protector = (*Store)(nil)

// Protection asks the bucket for its versioning and Object Lock settings.
// A bucket without an Object Lock configuration is not an error.
func (s *Store) Protection(ctx context.Context) (store.Protection, error) {
	var p store.Protection
	v, err := s.client.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return p, fmt.Errorf("s3: get bucket versioning of %s: %w", s.cfg.Bucket, err)
	}
	p.Versioning = string(v.Status)
	ol, err := s.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		if code, _ := errorCode(err); code == "ObjectLockConfigurationNotFoundError" {
			return p, nil
		}
		return p, fmt.Errorf("s3: get object lock configuration of %s: %w", s.cfg.Bucket, err)
	}
	cfg := ol.ObjectLockConfiguration
	if cfg == nil {
		return p, nil
	}
	p.ObjectLock = cfg.ObjectLockEnabled == "Enabled"
	if cfg.Rule != nil && cfg.Rule.DefaultRetention != nil {
		d := cfg.Rule.DefaultRetention
		switch {
		case d.Days != nil:
			p.DefaultRetention = fmt.Sprintf("%s:%d", d.Mode, *d.Days)
		case d.Years != nil:
			p.DefaultRetention = fmt.Sprintf("%s:%dy", d.Mode, *d.Years)
		}
	}
	return p, nil
}
