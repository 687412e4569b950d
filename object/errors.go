package object

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error that says an object is malformed is a
// *FormatError wrapping one of these; check them with errors.Is. Errors of the
// underlying reader (a failed network read) are passed through wrapped, never
// disguised as one of these.
var (
	// ErrNotObject: the input does not start with the object magic.
	ErrNotObject = errors.New("not a logship object")
	// ErrUnknownVersion: the format version is newer (or older) than this
	// reader understands.
	ErrUnknownVersion = errors.New("unknown object format version")
	// ErrHeaderTooLarge: the header length exceeds MaxHeaderSize (on read),
	// or name and meta don't fit in it (on encode).
	ErrHeaderTooLarge = errors.New("object header too large")
	// ErrCorruptHeader: the header checksum or a header field is wrong.
	ErrCorruptHeader = errors.New("corrupt object header")
	// ErrTruncated: the input ends inside the header or the body.
	ErrTruncated = errors.New("object truncated")
	// ErrChecksumMismatch: the body does not decode, or decodes to bytes
	// whose SHA-256 differs from the header's.
	ErrChecksumMismatch = errors.New("object checksum mismatch")
	// ErrSizeMismatch: the body decodes to a size other than RawSize.
	ErrSizeMismatch = errors.New("object size mismatch")
	// ErrTrailingData: bytes follow the body.
	ErrTrailingData = errors.New("trailing data after object")
)

// FormatError reports a malformed object: Op is the step that found it
// ("read header", "decode body", ...), Err wraps one of the sentinels.
type FormatError struct {
	Op  string
	Err error
}

func (e *FormatError) Error() string { return "object: " + e.Op + ": " + e.Err.Error() }

func (e *FormatError) Unwrap() error { return e.Err }

// formatErr builds a *FormatError whose message is the sentinel's followed by
// the detail, e.g. "object: read header: corrupt object header: bad crc".
func formatErr(op string, sentinel error, format string, args ...any) error {
	return &FormatError{Op: op, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}
