package object

import (
	"fmt"
	"strings"
)

// Kind says what an object holds. The values are part of the format.
type Kind uint8

// Kinds of objects.
const (
	KindWAL         Kind = 1 // WAL segment, .partial
	KindHistory     Kind = 2 // timeline .history file
	KindBackupLabel Kind = 3 // <seg>.<off>.backup file
	KindBackupPart  Kind = 4 // a part of a base backup tar stream
	KindMeta        Kind = 5 // small metadata documents (e.g. backup_manifest)
	KindWALPiece    Kind = 6 // a byte range of a WAL segment, streamed by receive
)

func (k Kind) String() string {
	switch k {
	case KindWAL:
		return "wal"
	case KindHistory:
		return "history"
	case KindBackupLabel:
		return "backup-label"
	case KindBackupPart:
		return "backup-part"
	case KindMeta:
		return "meta"
	case KindWALPiece:
		return "wal-piece"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k Kind) known() bool { return k >= KindWAL && k <= KindWALPiece }

// Compression is how an object's body is stored. The values are part of the
// format.
type Compression uint8

// Compressions.
const (
	None Compression = 0
	Zstd Compression = 1
	// ZstdAge: zstd, then age-encrypted for the recipients whose
	// fingerprints meta MetaRecipients lists. Set by EncodeOptions.Encrypt,
	// never parsed from a setting.
	ZstdAge Compression = 2
)

// ParseCompression parses "zstd" or "none" (any case).
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "zstd":
		return Zstd, nil
	case "none":
		return None, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want zstd or none)", s)
}

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Zstd:
		return "zstd"
	case ZstdAge:
		return "zstd+age"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

func (c Compression) known() bool { return c == None || c == Zstd || c == ZstdAge }
