package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// Deep verify of encrypted objects without an identity: it cannot read
// the plaintext, but it still proves every stored byte intact (the body's
// CRC-32C and SHA-256 in the clear header, object.VerifyStored) and each
// header consistent with its record (name, size, plaintext checksum).

// CodeNoIdentity: an encrypted object that none of the identities given
// to verify can open (it was sealed only for other recipients). Its stored
// bytes are still checked.
const CodeNoIdentity = "no-identity"

// noIdentityFix is the fix of CodeNoIdentity.
const noIdentityFix = "restoring it needs the identity of one of its recipients (fingerprints in the message): add that identity to the --identity-file, or keep the key that opens it until the object is purged"

// keyFacts marks the progress facts of a run that can open encrypted
// objects, so that an item checked only as stored bytes is checked again,
// in full, by a run with an identity. Runs without one keep the facts as
// they were, so their recorded progress stays valid.
func (v *verifier) keyFacts(facts []string) []string {
	if v.cat.decrypt != nil {
		return append(facts, "opened")
	}
	return facts
}

// checkStored downloads key and checks its stored bytes and its header
// against w; problems come back as *partError, as classify makes them.
func (v *verifier) checkStored(ctx context.Context, key string, w expect) (object.Header, error) {
	rc, err := v.get(ctx, key, w.version)
	if err != nil {
		return object.Header{}, classify(key, err)
	}
	defer rc.Close()
	h, err := object.VerifyStored(rc)
	if err != nil {
		return h, classify(key, err)
	}
	if err := checkRecord(h, key, w); err != nil {
		return h, &partError{key: key, code: CodeRecordMismatch, err: err}
	}
	return h, nil
}

// deepWALStored is deepWAL for an encrypted WAL object and no identity
// for it: opener is the reader's error when identities were given.
func (v *verifier) deepWALStored(ctx context.Context, it deepItem, opener error, bad func(code, msg, fix string) (bool, error), fix string) (bool, error) {
	w := expect{name: it.name}
	if r := it.rec; r != nil {
		w.rawSize, w.sha256, w.version = r.RawSize, r.SHA256, r.VersionID
	}
	_, err := v.checkStored(ctx, it.key, w)
	var pe *partError
	switch {
	case err == nil && opener != nil:
		// Not marked bad: the object is intact, and whoever holds its key
		// can restore through it; gap and mark checks must not say otherwise.
		v.add(v.storeCheck, Problem{Severity: SevError, Code: CodeNoIdentity, Object: it.key,
			Message: fmt.Sprintf("%s: no given identity opens it: %v", it.key, opener), Fix: noIdentityFix})
		return false, nil
	case err == nil:
		return true, nil
	case !errors.As(err, &pe) || pe.code == "":
		return false, fmt.Errorf("read %s: %w", it.key, err)
	case errors.Is(err, store.ErrNotExist):
		return bad(CodeRecordWithoutObject, fmt.Sprintf("%s disappeared from the store during verify", it.key), "run verify again; if it is still missing, see record-without-object")
	case pe.code == CodeRecordMismatch:
		return bad(CodeRecordMismatch, pe.err.Error(), "the object was replaced after it was recorded: find out which copy is right; delete the wrong object or record")
	}
	return bad(CodeCorrupt, fmt.Sprintf("%s: %v", it.key, pe.err), fix)
}

// deepBackupStored is deepBackup for an encrypted backup and no
// identity: the manifest and every part, as stored bytes.
func (v *verifier) deepBackupStored(ctx context.Context, b Backup, opener error, bad func(code, obj, msg, fix string) (bool, error)) (bool, error) {
	check := func(key string, w expect) (bool, error) {
		_, err := v.checkStored(ctx, key, w)
		var pe *partError
		switch {
		case err == nil:
			return true, nil
		case !errors.As(err, &pe) || pe.code == "":
			return false, err
		}
		return bad(pe.code, pe.key, fmt.Sprintf("backup %s: %v", b.ID, pe), retake)
	}
	if ok, err := check(b.ManifestKey, manifestExpect(b)); !ok || err != nil {
		return ok, err
	}
	for _, p := range b.AllParts() {
		if ok, err := check(p.Key, partExpect(p)); !ok || err != nil {
			return ok, err
		}
	}
	if opener != nil {
		v.add(v.backupChecks[b.ID], Problem{Severity: SevError, Code: CodeNoIdentity, Object: b.ManifestKey,
			Message: fmt.Sprintf("backup %s: no given identity opens it: %v", b.ID, opener), Fix: noIdentityFix})
		return false, nil
	}
	return true, nil
}
