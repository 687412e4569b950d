package shipper

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

// protectedStore is a file store that answers Protection as a bucket would.
type protectedStore struct {
	store.Store
	p   store.Protection
	err error
}

func (s protectedStore) Protection(context.Context) (store.Protection, error) { return s.p, s.err }

func TestObjectLockCheck(t *testing.T) {
	fs, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		st     store.Store
		ok     bool
		detail string
	}{
		{"locked", protectedStore{fs, store.Protection{Versioning: "Enabled", ObjectLock: true, DefaultRetention: "GOVERNANCE:7"}, nil}, true, "Object Lock enabled, default retention GOVERNANCE:7"},
		{"no lock", protectedStore{fs, store.Protection{Versioning: "Enabled"}, nil}, false, "Object Lock not enabled"},
		{"suspended", protectedStore{fs, store.Protection{Versioning: "Suspended", ObjectLock: true}, nil}, false, "versioning Suspended"},
		{"denied", protectedStore{fs, store.Protection{}, errors.New("AccessDenied")}, false, "AccessDenied"},
		{"file store", fs, false, "no versioning or Object Lock"},
	}
	for _, c := range cases {
		r := objectLockCheck(context.Background(), catalog.New(c.st, "main"), "COMPLIANCE:30", time.Minute)
		if r.OK != c.ok || !strings.Contains(r.Detail, c.detail) || r.OK == (r.Fix != "") {
			t.Errorf("%s: %+v; want ok %v and a detail with %q", c.name, r, c.ok, c.detail)
		}
	}
}
