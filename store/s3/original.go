package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logship/logship/store"
)

// ReadOriginal mode (--s3-read-original) reads a versioned bucket as
// logship wrote it, whatever was overwritten or deleted since. Every
// logship write is create-only, so the oldest version of a key is the one
// logship wrote: an overwrite makes a newer version, a delete a newer
// delete marker. In this mode List, Stat and Get see, for every key that
// ever had a version, that oldest version; delete markers are ignored.
// With Object Lock (--s3-object-lock on the writer) those versions cannot
// be deleted before their retention date, so a restore in this mode is
// unaffected by what stolen credentials did within that window.
//
// It also brings back what purge deleted while the versions remain, so it
// is for recovering after an attack, not for everyday work.

// original is the oldest version of a key.
type original struct {
	info      store.ObjectInfo
	versionID string
}

// listOriginals walks the versions under the full prefix p (bucket key
// space) in key order and calls fn with each key's oldest version. S3
// lists the versions of a key newest first, possibly across pages.
func (s *Store) listOriginals(ctx context.Context, p string, fn func(full string, o original) error) error {
	pages := awss3.NewListObjectVersionsPaginator(s.client, &awss3.ListObjectVersionsInput{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(p), MaxKeys: aws.Int32(1000),
	})
	var cur string
	var oldest *types.ObjectVersion
	flush := func() error {
		if oldest == nil {
			return nil
		}
		o := original{
			info:      store.ObjectInfo{Size: aws.ToInt64(oldest.Size), ModTime: aws.ToTime(oldest.LastModified)},
			versionID: aws.ToString(oldest.VersionId),
		}
		oldest = nil
		return fn(cur, o)
	}
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for i := range page.Versions {
			v := &page.Versions[i]
			if k := aws.ToString(v.Key); k != cur {
				if err := flush(); err != nil {
					return err
				}
				cur = k
			}
			oldest = v
		}
	}
	return flush()
}

func (s *Store) listOriginal(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	err := s.listOriginals(ctx, s.prefix+prefix, func(full string, o original) error {
		key, ok := strings.CutPrefix(full, s.prefix)
		if !ok || key == "" || strings.HasSuffix(key, "/") {
			return nil
		}
		o.info.Key = key
		return fn(o.info)
	})
	if err != nil {
		return fmt.Errorf("s3: list versions %s: %w", prefix, err)
	}
	return nil
}

// originalOf finds the oldest version of key, or ErrNotExist.
func (s *Store) originalOf(ctx context.Context, key string) (original, error) {
	var found *original
	full := s.prefix + key
	err := s.listOriginals(ctx, full, func(k string, o original) error {
		if k == full {
			o.info.Key = key
			found = &o
			return errStopList
		}
		if k > full {
			return errStopList
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopList) {
		return original{}, fmt.Errorf("s3: list versions of %s: %w", key, err)
	}
	if found == nil {
		return original{}, fmt.Errorf("s3: no version of %s: %w", key, store.ErrNotExist)
	}
	return *found, nil
}

var errStopList = errors.New("stop listing")

func (s *Store) statOriginal(ctx context.Context, key string) (store.ObjectInfo, error) {
	o, err := s.originalOf(ctx, key)
	return o.info, err
}
