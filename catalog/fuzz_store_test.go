package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logship/logship/store"
)

// fuzzStore is an in-memory store for the fuzz targets: a file store would
// spend a fuzz run on fsync.
type fuzzStore struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func newFuzzStore() *fuzzStore { return &fuzzStore{objects: map[string][]byte{}} }

func (m *fuzzStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	b, err := io.ReadAll(io.LimitReader(body, size+1))
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("put %s: body has %d bytes, want %d", key, len(b), size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok {
		return fmt.Errorf("put %s: %w", key, store.ErrExist)
	}
	m.objects[key] = b
	return nil
}

func (m *fuzzStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, store.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *fuzzStore) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return store.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, store.ErrNotExist)
	}
	return store.ObjectInfo{Key: key, Size: int64(len(b)), ModTime: time.Unix(1, 0)}, nil
}

func (m *fuzzStore) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	m.mu.Lock()
	var infos []store.ObjectInfo
	for key, b := range m.objects {
		if strings.HasPrefix(key, prefix) {
			infos = append(infos, store.ObjectInfo{Key: key, Size: int64(len(b)), ModTime: time.Unix(1, 0)})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(infos, func(a, b store.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	for _, oi := range infos {
		if err := fn(oi); err != nil {
			return err
		}
	}
	return nil
}

func (m *fuzzStore) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

func (m *fuzzStore) String() string { return "mem://" }

func (m *fuzzStore) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objects {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
