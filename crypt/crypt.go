// Package crypt holds logship's keys: age X25519 recipients, which seal
// objects on the machine that ships, and identities, which open them where
// data is read. It implements object.Encrypter and object.Decrypter, so the
// object format never handles key material itself.
package crypt

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/logship/logship/object"
)

// Fingerprint names a recipient without giving it away in full: the first
// 8 bytes of the SHA-256 of its age1... string, in hex. It is what object
// headers and catalog listings show.
func Fingerprint(recipient string) string {
	s := sha256.Sum256([]byte(recipient))
	return hex.EncodeToString(s[:8])
}

// Recipients seals objects for one or more public keys.
type Recipients struct {
	rs  []age.Recipient
	fps []string
}

// ParseRecipients reads recipients given on the command line (each an
// age1... string) and, when file is set, one per line from file (blank
// lines and # comments skipped). Duplicates are dropped. No recipients at
// all is (nil, nil): encryption is off.
func ParseRecipients(list []string, file string) (*Recipients, error) {
	all := slices.Clone(list)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("recipients-file: %w", err)
		}
		all = append(all, strings.Split(string(b), "\n")...)
	}
	r := &Recipients{}
	for _, s := range all {
		s = strings.TrimSpace(s)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") {
			return nil, errors.New("a recipient is a secret key (AGE-SECRET-KEY-...): give the public key (age1...) that `logship key generate` printed, and keep the identity away from the shipping machine")
		}
		x, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("recipient %.20q...: %w", s, err)
		}
		fp := Fingerprint(x.String())
		if slices.Contains(r.fps, fp) {
			continue
		}
		r.rs, r.fps = append(r.rs, x), append(r.fps, fp)
	}
	if len(r.rs) == 0 {
		return nil, nil
	}
	return r, nil
}

// Seal implements object.Encrypter.
func (r *Recipients) Seal(dst io.Writer) (io.WriteCloser, error) { return age.Encrypt(dst, r.rs...) }

// Fingerprints implements object.Encrypter.
func (r *Recipients) Fingerprints() []string { return slices.Clone(r.fps) }

// Identities open objects sealed for their recipients.
type Identities struct {
	ids []age.Identity
	fps []string // fingerprints of their recipients
}

// LoadIdentities reads an identity file (age-keygen's format: one
// AGE-SECRET-KEY-1... a line, # comments). The file must not be readable
// by others than its owner and group (mode 0600 or 0640), as ssh insists
// for its keys: a key anyone can read protects nothing.
func LoadIdentities(file string) (*Identities, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("identity-file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity-file: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o037 != 0 {
		return nil, fmt.Errorf("identity-file %s has mode %04o: it must not be writable by its group or readable by others (chmod 0600 or 0640)", file, m)
	}
	ids, err := age.ParseIdentities(bufio.NewReader(f))
	if err != nil {
		// age's message never quotes the key material.
		return nil, fmt.Errorf("identity-file %s: %w", file, err)
	}
	out := &Identities{ids: ids}
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			out.fps = append(out.fps, Fingerprint(x.Recipient().String()))
		}
	}
	return out, nil
}

// Open implements object.Decrypter.
func (i *Identities) Open(src io.Reader) (io.Reader, error) {
	r, err := age.Decrypt(src, i.ids...)
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return nil, object.ErrNoIdentity
	}
	return r, err
}

// Fingerprints are the fingerprints of the recipients these identities
// open.
func (i *Identities) Fingerprints() []string { return slices.Clone(i.fps) }

// CanOpen reports whether one of the identities is among the recipients
// (fingerprints) of an object.
func (i *Identities) CanOpen(recipients []string) bool {
	for _, fp := range recipients {
		if slices.Contains(i.fps, fp) {
			return true
		}
	}
	return false
}

// Generate makes a new X25519 identity and returns the identity file's
// content (with the public key as a comment, as age-keygen writes it) and
// the recipient string.
func Generate() (identityFile, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", err
	}
	rcp := id.Recipient().String()
	return fmt.Sprintf("# logship identity: keep it secret; it opens every object sealed for\n# public key: %s\n%s\n", rcp, id.String()), rcp, nil
}
