package catalog_test

import "github.com/logship/logship/store/mem"

// newFuzzStore is an in-memory store for the fuzz targets: a file store
// would spend a fuzz run on fsync.
func newFuzzStore() *mem.Store { return mem.New() }
