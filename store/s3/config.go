package s3

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/logship/logship/store"
)

// Defaults for the zero values of Config.
const (
	DefaultRegion         = "us-east-1"
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxAttempts    = 5
	DefaultPartSize       = 16 << 20

	// S3 refuses parts under 5 MiB (except the last) and over 5 GiB, and
	// uploads of more than 10,000 parts.
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10000
)

// Config says where the store is and how to talk to it. Credentials are not
// part of it: they come only from the standard AWS chain (environment,
// shared config and profile, web identity, instance role).
type Config struct {
	// Bucket and Prefix come from s3://bucket/prefix. Prefix has no
	// leading or trailing slash.
	Bucket, Prefix string
	// Region defaults to the AWS chain's region, then to us-east-1.
	Region string
	// Endpoint is a custom endpoint such as http://127.0.0.1:7070; the SDK's
	// AWS_ENDPOINT_URL also works.
	Endpoint string
	// PathStyle addresses the bucket in the path rather than the host name;
	// most self-hosted servers need it. It is forced for an endpoint that is
	// an IP address or localhost, where host-style cannot work.
	PathStyle bool
	// SSE is the server-side encryption: "", "AES256" or "aws:kms"
	// (with SSEKMSKeyID, or the bucket's default key when empty).
	SSE         string
	SSEKMSKeyID string
	// RequestTimeout bounds every attempt of every request, and every
	// silence while a download is read.
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts of each request, and the resumes of a
	// download that makes no progress.
	MaxAttempts int
	// PartSize is the size above which an object goes up in parts, and the
	// size of those parts.
	PartSize int64
	// ObjectLock, when its Mode is set, puts an S3 Object Lock retention
	// on every object written except those ObjectLock.Exempt names; the
	// bucket must have Object Lock (and so versioning) enabled.
	ObjectLock ObjectLock
	// ReadOriginal reads every key's oldest version, ignoring newer
	// versions and delete markers (original.go): to restore from a
	// versioned bucket after an attack.
	ReadOriginal bool
	// ConditionalWrites is "auto" (the default: If-None-Match, falling back
	// to "off" if the server says it does not implement it), "on" or "off".
	// "off" checks with HEAD, then PUTs: two writers racing for one key can
	// both succeed, the last one winning. Use it only for servers without
	// If-None-Match.
	ConditionalWrites string
	// DeferBucketCheck skips Open's bucket check (one HeadBucket): it runs
	// only if a request fails in a way the configuration may explain, and
	// a wrong bucket or credentials still come back as ErrConfig, from that
	// request. For short processes whose every round trip counts (wal-push).
	DeferBucketCheck bool
	// Logger receives the AWS SDK's own log messages; nil leaves them to
	// the SDK's default (plain lines on stderr).
	Logger *slog.Logger
}

// ParseURL reads s3://bucket[/prefix] into a Config with only Bucket and
// Prefix set.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the whole URL, which may hold a secret.
		return Config{}, fmt.Errorf("%w: s3 URL is malformed; want s3://bucket/prefix", store.ErrConfig)
	}
	if u.User != nil {
		return Config{}, fmt.Errorf("%w: s3 URL must not hold credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role", store.ErrConfig)
	}
	if !strings.EqualFold(u.Scheme, "s3") {
		return Config{}, fmt.Errorf("%w: %q is not an s3:// URL; want s3://bucket/prefix", store.ErrConfig, store.RedactURL(raw))
	}
	if u.Opaque != "" {
		return Config{}, fmt.Errorf("%w: %q: want s3://bucket/prefix", store.ErrConfig, store.RedactURL(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return Config{}, fmt.Errorf("%w: %q: s3 URL takes no query or fragment; set endpoint, region and the rest with their own settings", store.ErrConfig, store.RedactURL(raw))
	}
	if u.Port() != "" {
		return Config{}, fmt.Errorf("%w: %q: the s3 URL names a bucket, not a server; set the endpoint with its own setting", store.ErrConfig, store.RedactURL(raw))
	}
	cfg := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if err := checkBucket(cfg.Bucket); err != nil {
		return Config{}, err
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkBucket applies S3's bucket naming rules, so that a typo is caught
// before the first request.
func checkBucket(b string) error {
	if b == "" {
		return fmt.Errorf("%w: s3 URL has no bucket; want s3://bucket/prefix", store.ErrConfig)
	}
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("%w: bucket name %q must be 3 to 63 characters long", store.ErrConfig, b)
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: bucket name %q may hold only lowercase letters, digits, '-' and '.'", store.ErrConfig, b)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("%w: bucket name %q must start and end with a letter or digit", store.ErrConfig, b)
	}
	return nil
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	if err := checkKey(p); err != nil {
		return fmt.Errorf("%w: prefix: %w", store.ErrConfig, err)
	}
	return nil
}

// checkKey applies the key rules of package store.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	for _, c := range key {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("._~/-", c)) {
			return fmt.Errorf("key %q: character %q not allowed", key, c)
		}
	}
	for _, elem := range strings.Split(key, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return fmt.Errorf("key %q: empty, \".\" or \"..\" path element", key)
		}
	}
	return nil
}

// withDefaults fills in zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.ConditionalWrites == "" {
		c.ConditionalWrites = "auto"
	}
	if err := checkBucket(c.Bucket); err != nil {
		return c, err
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if err := checkPrefix(c.Prefix); err != nil {
		return c, err
	}
	switch {
	case c.RequestTimeout < 0:
		return c, fmt.Errorf("%w: s3 request timeout %s is negative", store.ErrConfig, c.RequestTimeout)
	case c.MaxAttempts < 1:
		return c, fmt.Errorf("%w: s3 max attempts %d: want at least 1", store.ErrConfig, c.MaxAttempts)
	case c.PartSize < minPartSize || c.PartSize > maxPartSize:
		return c, fmt.Errorf("%w: s3 part size %d: want 5 MiB to 5 GiB", store.ErrConfig, c.PartSize)
	}
	switch c.SSE {
	case "", "AES256", "aws:kms":
	default:
		return c, fmt.Errorf("%w: s3 server-side encryption %q: want \"\", \"AES256\" or \"aws:kms\"", store.ErrConfig, c.SSE)
	}
	if c.SSEKMSKeyID != "" && c.SSE != "aws:kms" {
		return c, fmt.Errorf("%w: s3 KMS key ID given without server-side encryption \"aws:kms\"", store.ErrConfig)
	}
	switch c.ConditionalWrites {
	case "auto", "on", "off":
	default:
		return c, fmt.Errorf("%w: s3 conditional writes %q: want auto, on or off", store.ErrConfig, c.ConditionalWrites)
	}
	if err := c.ObjectLock.check(); err != nil {
		return c, err
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return c, fmt.Errorf("%w: s3 endpoint must be an http:// or https:// URL without credentials, like http://127.0.0.1:7070", store.ErrConfig)
		}
	}
	return c, nil
}
