// Package pg holds what logship knows about PostgreSQL's on-disk and on-wire
// formats: LSNs, WAL file names and segment arithmetic, the long page header
// at the start of every WAL segment, and timeline history files.
//
// It is pure Go and needs no server. Everything here follows PostgreSQL's
// own definitions (src/include/access/xlog_internal.h,
// src/backend/access/transam/timeline.c) and is checked against a real
// PostgreSQL 15 server in the tests.
package pg
