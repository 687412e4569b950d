package store_test

import (
	"testing"

	"github.com/logship/logship/store"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"s3://bucket/prefix", "s3://bucket/prefix"},
		{"file:///var/lib/logship", "file:///var/lib/logship"},
		{"s3://k:s@bucket/p", "s3://<redacted>@bucket/p"},
		{"ftp://a@b:c@host/p@q", "ftp://<redacted>@host/p@q"},
		{"s3:k:s@bucket", "s3:<redacted>@bucket"},
		{"s3://bucket/p?sig=s#f", "s3://bucket/p?<redacted>"},
		{"file://u:p@h/x?k=v", "file://<redacted>@h/x?<redacted>"},
	}
	for _, tt := range tests {
		if got := store.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
