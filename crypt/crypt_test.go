package crypt_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/crypt"
	"github.com/logship/logship/object"
)

func newKey(t *testing.T) (idFile, recipient string) {
	t.Helper()
	content, rcp, err := crypt.Generate()
	if err != nil {
		t.Fatal(err)
	}
	idFile = filepath.Join(t.TempDir(), "id.txt")
	if err := os.WriteFile(idFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return idFile, rcp
}

func TestRoundTrip(t *testing.T) {
	idA, rcpA := newKey(t)
	idB, rcpB := newKey(t)
	_, rcpC := newKey(t)
	raw := bytes.Repeat([]byte("MARKER-secret-row "), 100000)
	both, err := crypt.ParseRecipients([]string{rcpA, rcpB, rcpA}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(both.Fingerprints()) != 2 {
		t.Fatalf("fingerprints %v, want 2 (duplicate dropped)", both.Fingerprints())
	}
	opts := object.EncodeOptions{Compression: object.Zstd, Encrypt: both}
	objs := map[string]*object.Encoded{}
	if objs["bytes"], err = object.EncodeBytes(raw, object.KindWAL, "000000010000000000000001", map[string]string{"timeline": "1"}, opts); err != nil {
		t.Fatal(err)
	}
	if objs["stream"], err = object.Encode(bytes.NewReader(raw), object.KindMeta, "backup_manifest", nil, opts); err != nil {
		t.Fatal(err)
	}
	for name, enc := range objs {
		if bytes.Contains(enc.Bytes(), []byte("MARKER")) {
			t.Fatalf("%s: marker in stored bytes", name)
		}
		h := enc.Header
		if h.Compression != object.ZstdAge || !h.Encrypted() || strings.Join(h.Recipients(), ",") != strings.Join(both.Fingerprints(), ",") {
			t.Fatalf("%s: header %+v", name, h)
		}
		for _, idf := range []string{idA, idB} {
			ids, err := crypt.LoadIdentities(idf)
			if err != nil {
				t.Fatal(err)
			}
			or, err := object.NewReaderOpts(enc.Reader(), object.ReadOptions{Decrypt: ids})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(or)
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("%s: read back %d bytes, err %v", name, len(got), err)
			}
			if !ids.CanOpen(h.Recipients()) {
				t.Fatalf("%s: CanOpen false", name)
			}
		}
		if _, err := object.NewReader(enc.Reader()); !errors.Is(err, object.ErrEncrypted) {
			t.Fatalf("%s: no identity: %v, want ErrEncrypted", name, err)
		}
		if _, err := object.Verify(enc.Reader()); !errors.Is(err, object.ErrEncrypted) {
			t.Fatalf("%s: Verify without identity: %v", name, err)
		}
		if _, err := object.VerifyStored(enc.Reader()); err != nil {
			t.Fatalf("%s: VerifyStored: %v", name, err)
		}
		// A flipped stored byte is found without a key.
		b := bytes.Clone(enc.Bytes())
		b[len(b)-10] ^= 1
		if _, err := object.VerifyStored(bytes.NewReader(b)); !errors.Is(err, object.ErrChecksumMismatch) {
			t.Fatalf("%s: VerifyStored of damaged object: %v", name, err)
		}
	}
	// An identity that is not a recipient.
	only, _ := crypt.ParseRecipients([]string{rcpC}, "")
	enc, err := object.EncodeBytes(raw, object.KindWAL, "x", nil, object.EncodeOptions{Encrypt: only})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := crypt.LoadIdentities(idA)
	if _, err := object.NewReaderOpts(enc.Reader(), object.ReadOptions{Decrypt: ids}); !errors.Is(err, object.ErrNoIdentity) {
		t.Fatalf("wrong identity: %v, want ErrNoIdentity", err)
	}
	if ids.CanOpen(enc.Header.Recipients()) {
		t.Fatal("CanOpen true for a foreign recipient")
	}
}

func TestLoadIdentitiesRefusesOpenMode(t *testing.T) {
	idf, _ := newKey(t)
	if err := os.Chmod(idf, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := crypt.LoadIdentities(idf); err == nil || !strings.Contains(err.Error(), "chmod 0600") {
		t.Fatalf("mode 0644: %v", err)
	}
	if err := os.Chmod(idf, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := crypt.LoadIdentities(idf); err != nil {
		t.Fatalf("mode 0640: %v", err)
	}
}

func TestParseRecipientsRefusesSecret(t *testing.T) {
	idf, _ := newKey(t)
	b, _ := os.ReadFile(idf)
	var secret string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "AGE-SECRET-KEY-") {
			secret = l
		}
	}
	_, err := crypt.ParseRecipients([]string{secret}, "")
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("secret as recipient: %v", err)
	}
	if r, err := crypt.ParseRecipients(nil, ""); r != nil || err != nil {
		t.Fatalf("no recipients: %v %v", r, err)
	}
}
