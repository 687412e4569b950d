package backends_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/backends"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url     string
		want    string // String() of the store, or
		errPart string // part of the configuration error
	}{
		{url: "file://" + dir, want: "file://" + dir},
		{url: dir, want: "file://" + dir},
		{url: "", errPart: "no store given"},
		{url: "ftp://host/x", errPart: "bad store URL"},
		{url: "s3://user:hunter2@bucket/x", errPart: "must not hold credentials"},
		{url: "file://" + dir + "/missing", errPart: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			st, err := backends.Open(context.Background(), tt.url, backends.Options{})
			if tt.errPart != "" {
				if err == nil || !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("Open(%q) = %v; want a configuration error with %q", tt.url, err, tt.errPart)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil || st.String() != tt.want {
				t.Fatalf("Open(%q) = %v, %v; want %s", tt.url, st, err, tt.want)
			}
		})
	}
}
