package shipper

import (
	"errors"
	"fmt"

	"github.com/logship/logship/pg"
)

// ErrManifestUnusable means the server sent a backup_manifest that restore
// could not use: a version logship does not read, another cluster's system
// identifier, a checksum algorithm it cannot check, or a damaged text. The
// backup is refused before it is recorded, rather than found out at restore.
var ErrManifestUnusable = errors.New("backup refused: restore could not use its backup_manifest")

// checkManifest parses the manifest as restore will, and checks that it
// is of the cluster backed up.
func checkManifest(raw []byte, systemID uint64) error {
	m, err := pg.ParseManifest(raw)
	if err == nil {
		err = m.Head().CheckFor(systemID)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrManifestUnusable, err)
	}
	return nil
}
