package storetest_test

import (
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/mem"
	"github.com/logship/logship/store/storetest"
)

// The in-memory store keeps the contract, which checks the suite itself
// apart from any real backend's quirks.
func TestMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return mem.New() })
}
