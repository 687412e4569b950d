// Package object frames every object logship stores: WAL segments, history
// files, backup labels, base-backup parts and small metadata documents.
//
// An object is a small self-describing header followed by the body. The
// header names what the object is (kind, original file name, a few key/value
// facts) and carries the size and SHA-256 of the raw bytes, so an object can
// be verified, and the catalog rebuilt, from the object alone. The body is
// the raw bytes compressed with zstd, or stored as they are.
//
// The byte layout is specified in docs/FORMAT.md ("Object format"). Every
// length read from an object is bounded before it is used, and decoding uses
// bounded memory whatever the input, because objects come back from storage
// that logship does not control.
//
// A Reader hands out raw bytes as it decodes them and reports a bad object
// (wrong size, wrong checksum, truncated, trailing bytes) only on the Read
// that would otherwise return io.EOF. Callers must therefore treat what they
// read as provisional until that final Read succeeds: write to a temporary
// file and rename it into place only after io.EOF.
package object
