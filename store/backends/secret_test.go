package backends_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/backends"
)

// F12: a malformed store URL is refused as a configuration error whose
// message never holds the secret pasted into it (user:password@, a query
// string, a fragment), whatever the scheme.
func TestF12_NoSecretInStoreURLErrors(t *testing.T) {
	const secret = "hunter2"
	urls := []string{
		"s3://bucket/x?X-Amz-Signature=" + secret,
		"s3://bucket/x#" + secret,
		"s3://bucket:9000/x?token=" + secret,
		"s3:user:" + secret + "@bucket",
		"s3://user:" + secret + "@bucket/x",
		"S3://user:" + secret + "@bucket/x",
		"ftp://user:" + secret + "@host/x",
		"https://user:" + secret + "@host/x?y=" + secret,
		"s3x://user:" + secret + "@bucket/x",
		"file://user:" + secret + "@host/x",
		"file://user:" + secret + "@/x",
		"file:user:" + secret + "@x",
		"file:///var/lib/logship?key=" + secret,
		"file:///var/lib/logship#" + secret,
		"file://user:" + secret + "@[bad/x",
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			_, err := backends.Open(context.Background(), u, backends.Options{})
			if err == nil || !errors.Is(err, store.ErrConfig) {
				t.Fatalf("Open(%q) = %v; want a configuration error", u, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}
