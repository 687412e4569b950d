package shipper

import (
	"context"
	"fmt"
	"time"

	"github.com/logship/logship/catalog"
)

// objectLockCheck asks the bucket whether it keeps what --s3-object-lock
// promises: versions (versioning) and their retention (Object Lock). A
// bucket without Object Lock refuses every locked write, so that fails.
func objectLockCheck(ctx context.Context, cat *catalog.Catalog, lock string, timeout time.Duration) CheckResult {
	r := CheckResult{Name: CheckObjectLock}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := cat.StoreProtection(ctx)
	if err != nil {
		r.Detail = "cannot read the bucket's versioning and Object Lock settings: " + err.Error()
		r.Fix = "give these credentials s3:GetBucketVersioning and s3:GetBucketObjectLockConfiguration (docs/SECURITY.md), or drop --s3-object-lock"
		return r
	}
	versioning := p.Versioning
	if versioning == "" {
		versioning = "never enabled"
	}
	r.Detail = fmt.Sprintf("--s3-object-lock %s; bucket versioning %s, Object Lock %s", lock, versioning, map[bool]string{true: "enabled", false: "not enabled"}[p.ObjectLock])
	if p.DefaultRetention != "" {
		r.Detail += ", default retention " + p.DefaultRetention
	}
	switch {
	case !p.ObjectLock:
		r.Fix = "Object Lock can only be enabled on a bucket when it is created (or by AWS support): create a bucket with Object Lock, or drop --s3-object-lock"
	case p.Versioning != "Enabled":
		r.Fix = "enable versioning on the bucket: Object Lock protects versions"
	default:
		r.OK = true
	}
	return r
}
