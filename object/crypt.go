package object

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Meta keys the encoder sets on an encrypted object. Both stay in clear:
// they say who can open the object and let anyone check its stored bytes.
const (
	// MetaRecipients lists the fingerprints of the recipients an encrypted
	// object was sealed for, comma-separated, in the order given.
	MetaRecipients = "age_recipients"
	// MetaBodySHA256 is the SHA-256 (hex) of the stored, encrypted body:
	// with the body CRC-32C it proves the stored bytes intact without a key.
	MetaBodySHA256 = "body_sha256"
)

// Encrypter seals a compressed body for a set of recipients (package crypt
// implements it with age). The object package never sees key material.
type Encrypter interface {
	// Seal returns a writer whose Close finishes the sealed stream on dst.
	Seal(dst io.Writer) (io.WriteCloser, error)
	// Fingerprints names the recipients, for MetaRecipients.
	Fingerprints() []string
}

// Decrypter opens a body sealed by an Encrypter.
type Decrypter interface {
	// Open returns the plaintext of the sealed stream src. An error wrapping
	// ErrNoIdentity means none of its identities is a recipient.
	Open(src io.Reader) (io.Reader, error)
}

// ErrEncrypted: the object is encrypted and the reader was given no
// identity. It is not a *FormatError: the object may well be intact.
var ErrEncrypted = errors.New("object is encrypted (zstd+age): reading it needs an identity (--identity-file or LOGSHIP_IDENTITY_FILE)")

// ErrNoIdentity: none of the given identities can open the object.
var ErrNoIdentity = errors.New("none of the given identities can open this encrypted object")

// seal encrypts the body of b (after hsize bytes) and returns the header
// room followed by the sealed body.
func seal(b []byte, hsize int, enc Encrypter) ([]byte, error) {
	body := b[hsize:]
	out := &growBuf{b: make([]byte, hsize, hsize+len(body)+len(body)/4096+1024)}
	w, err := enc.Seal(out)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return out.b, nil
}

// encryptMeta adds the keys of an encrypted object to meta, with a
// placeholder body checksum of the final length so that the header size
// is known before the body is.
func encryptMeta(meta map[string]string, enc Encrypter) (map[string]string, error) {
	fps := enc.Fingerprints()
	if len(fps) == 0 {
		return nil, errors.New("encrypt: no recipients")
	}
	if meta == nil {
		meta = map[string]string{}
	}
	meta[MetaRecipients] = strings.Join(fps, ",")
	meta[MetaBodySHA256] = strings.Repeat("0", 2*sha256.Size)
	return meta, nil
}

func bodySHA256Hex(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// Recipients returns the fingerprints MetaRecipients lists (nil for a
// clear object).
func (h Header) Recipients() []string {
	if s := h.Meta[MetaRecipients]; s != "" {
		return strings.Split(s, ",")
	}
	return nil
}

// Encrypted reports whether the body is sealed.
func (h Header) Encrypted() bool { return h.Compression == ZstdAge }

type growBuf struct{ b []byte }

func (g *growBuf) Write(p []byte) (int, error) {
	g.b = append(g.b, p...)
	return len(p), nil
}
