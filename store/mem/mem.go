// Package mem is an in-memory store.Store for tests.
package mem

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

// Store keeps objects in memory, in the smallest way that keeps the
// store.Store contract (create-only Put, ErrNotExist, sorted listings): for
// unit and fuzz tests that would spend their time on a disk, and to check
// the conformance suite itself apart from any real backend's quirks.
type Store struct {
	mu      sync.Mutex
	objects map[string][]byte
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{objects: map[string][]byte{}} }

func (m *Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64) error {
	b, err := io.ReadAll(io.LimitReader(body, size+1))
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("put %s: body has %d bytes, want %d", key, len(b), size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok {
		return fmt.Errorf("put %s: %w", key, store.ErrExist)
	}
	m.objects[key] = b
	return nil
}

func (m *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, store.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *Store) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return store.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, store.ErrNotExist)
	}
	return store.ObjectInfo{Key: key, Size: int64(len(b)), ModTime: time.Unix(1, 0)}, nil
}

func (m *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
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

func (m *Store) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

func (m *Store) String() string { return "mem://" }

// Keys lists every key, sorted.
func (m *Store) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.objects))
	for k := range m.objects {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
