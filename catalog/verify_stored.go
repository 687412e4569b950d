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
	rc, err := v.get(ctx, key)
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

// deepWALStored is deepWAL for an encrypted WAL object and no identity.
func (v *verifier) deepWALStored(ctx context.Context, it deepItem, bad func(code, msg, fix string) (bool, error), fix string) (bool, error) {
	w := expect{name: it.name}
	if r := it.rec; r != nil {
		w.rawSize, w.sha256 = r.RawSize, r.SHA256
	}
	_, err := v.checkStored(ctx, it.key, w)
	var pe *partError
	switch {
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
func (v *verifier) deepBackupStored(ctx context.Context, b Backup, bad func(code, obj, msg, fix string) (bool, error)) (bool, error) {
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
	return true, nil
}
