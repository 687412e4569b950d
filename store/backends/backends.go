// Package backends opens a store from its URL. It is the one place that
// knows every backend, so that adding one is a visible change here rather
// than a hidden registration.
package backends

import (
	"context"
	"fmt"
	"strings"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

// Options are the backend settings that do not fit in a URL.
type Options struct{}

// Open returns the store named by rawURL: file:///path (or /path) or
// s3://bucket/prefix.
func Open(ctx context.Context, rawURL string, opts Options) (store.Store, error) {
	switch {
	case rawURL == "":
		return nil, fmt.Errorf("%w: no store given: set --store, LOGSHIP_STORE or 'store:' in the config file", store.ErrConfig)
	case strings.HasPrefix(rawURL, "file:") || strings.HasPrefix(rawURL, "/"):
		root, err := file.ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		return file.Open(root)
	default:
		return nil, fmt.Errorf("%w: bad store URL %q: want file:///absolute/path or s3://bucket/prefix", store.ErrConfig, rawURL)
	}
}
