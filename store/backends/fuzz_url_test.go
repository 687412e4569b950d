package backends_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/backends"
	"github.com/logship/logship/store/file"
	"github.com/logship/logship/store/s3"
)

// secretVariants puts token where a user might put a secret in a store
// URL: the user information, a query parameter, the fragment.
func secretVariants(raw, token string) []string {
	var withUser string
	if i := strings.Index(raw, "://"); i >= 0 {
		withUser = raw[:i+3] + "AKIDEXAMPLE:" + token + "@" + raw[i+3:]
	} else if i := strings.IndexByte(raw, ':'); i >= 0 {
		withUser = raw[:i+1] + "AKIDEXAMPLE:" + token + "@" + raw[i+1:]
	} else {
		withUser = "s3://AKIDEXAMPLE:" + token + "@" + raw
	}
	return []string{withUser, raw + "?secret=" + token, raw + "?a=b&token=" + token, raw + "#" + token,
		raw + "?x=" + token + "#y", withUser + "?a=" + token}
}

// fuzzToken is a recognisable secret built from the fuzzer's bytes.
func fuzzToken(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	for b.Len() < 6 {
		b.WriteString("x9")
	}
	return "Zq" + b.String() + "Qz"
}

// FuzzStoreURL parses store URLs with the file and S3 parsers and opens
// them (all but S3, which would build a client): no error may repeat a
// secret the URL held, and what parses is what a well-formed URL says.
func FuzzStoreURL(f *testing.F) {
	for _, s := range []string{
		"file:///var/lib/logship", "/var/lib/logship/", "file://localhost/x", "file://relative/x", "file:relative",
		"ftp://x/y", "s3://bucket", "S3://my.bucket-1/a/b/", "s3://bucket:9000/x", "s3://Bucket", "s3:opaque",
		"s3://bucket/%zz", "http://[::1", "file://%zz/x", "", "://", "s3://bucket/a b",
	} {
		f.Add(s, "hunter2")
	}
	dir := f.TempDir()
	f.Add("file://"+dir, "s3cr3t")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw, secret string) {
		token := fuzzToken(secret)
		urls := append(secretVariants(raw, token), raw)
		for _, u := range urls {
			if r := store.RedactURL(u); strings.Contains(r, token) {
				t.Fatalf("RedactURL(%q) = %q", u, r)
			}
			var errs []error
			root, err := file.ParseURL(u)
			errs = append(errs, err)
			if err == nil && (!filepath.IsAbs(root) || filepath.Clean(root) != root) {
				t.Fatalf("file.ParseURL(%q) = %q", u, root)
			}
			cfg, err := s3.ParseURL(u)
			errs = append(errs, err)
			if err == nil {
				again, err := s3.ParseURL("s3://" + cfg.Bucket + "/" + cfg.Prefix)
				if err != nil || again != cfg || strings.HasPrefix(cfg.Prefix, "/") || strings.HasSuffix(cfg.Prefix, "/") {
					t.Fatalf("s3.ParseURL(%q) = %+v, which reads back as %+v (%v)", u, cfg, again, err)
				}
			}
			if !strings.HasPrefix(strings.ToLower(u), "s3:") {
				st, err := backends.Open(ctx, u, backends.Options{})
				errs = append(errs, err)
				if err == nil && strings.Contains(st.String(), token) {
					t.Fatalf("store %q opened from %q shows the secret", st, u)
				}
			}
			for _, err := range errs {
				if err == nil {
					continue
				}
				if !errors.Is(err, store.ErrConfig) {
					t.Fatalf("%q: error %v is not a configuration error", u, err)
				}
				// A plain path is a folder name, '?' and '@' included.
				if u != raw && !strings.HasPrefix(u, "/") && strings.Contains(err.Error(), token) {
					t.Fatalf("%q: error shows the secret: %v", u, err)
				}
			}
		}
	})
}
