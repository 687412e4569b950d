package shipper

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
)

// ErrConflict means a different file is already stored under the same name.
// The stored one is kept; PostgreSQL will retry and keep failing, loudly,
// until a human looks.
var ErrConflict = errors.New("a different file is already stored under this name")

// ErrNotWALFile means the file given to wal-push cannot be a WAL file of
// the name it has (wrong size, or a page header that contradicts the name).
var ErrNotWALFile = errors.New("not a WAL file")

// PushOptions tune wal-push.
type PushOptions struct {
	Encode object.EncodeOptions
	Logger *slog.Logger
	// AllowPlaintext stores clear objects even into a source whose record
	// says it is encrypted.
	AllowPlaintext bool
	// SourceCache, when not nil, keeps the source records pushes checked,
	// so that later pushes need not read them (walpush_source.go).
	// PushWALAhead uses one in pg_wal when none is given.
	SourceCache *SourceCache

	// marked answers the encrypted marker's look-up for all the pushes of
	// one wal-push call (PushWALAhead); nil: each push looks it up.
	marked func() (bool, error)
}

// PushResult describes what wal-push did.
type PushResult struct {
	Record        catalog.WALRecord
	AlreadyStored bool // an identical object was there (a retry after a crash)
	Duration      time.Duration
}

// PushWAL archives the WAL file at path: it validates the name, checks the
// file belongs to the source's cluster, compresses and checksums it, stores
// it create-only, then records it in the catalog. It returns nil only when
// both are durable.
//
// The file is read into memory once (one segment at most) and compressed
// while the source is checked (a round trip, or none with a SourceCache);
// nothing is stored before that check answers. There is no look-up of the
// name before the create-only PUT: the PUT answers it, and a retry of a
// file already stored costs one compression and the comparison with the
// stored object.
func PushWAL(ctx context.Context, cat *catalog.Catalog, path string, opts PushOptions) (PushResult, error) {
	start := time.Now()
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return PushResult{}, fmt.Errorf("open WAL file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return PushResult{}, fmt.Errorf("open WAL file: %w", err)
	}
	wf, hdr, err := inspectWAL(f, name, fi.Size())
	if err != nil {
		return PushResult{}, err
	}

	srcErr := make(chan error, 1)
	go func() { srcErr <- checkSource(ctx, cat, hdr, opts) }()
	data, release, err := readWAL(f, fi.Size())
	if err != nil {
		return PushResult{}, fmt.Errorf("read %s: %w", name, err)
	}
	defer release()
	res, err := pushData(ctx, cat, wf, hdr, data, opts, srcErr)
	if err != nil {
		return res, err
	}
	recordOrigin(ctx, cat, path, wf, opts)
	res.Duration = time.Since(start)
	if opts.Logger != nil {
		opts.Logger.Debug("pushed WAL file", "name", name, "raw_bytes", res.Record.RawSize,
			"stored_bytes", res.Record.StoredSize, "already_stored", res.AlreadyStored, "duration", res.Duration)
	}
	return res, nil
}

// PushWALBytes stores data as the WAL file name (a segment or a .history
// file) exactly as PushWAL stores the file of that name: same checks, same
// object and record, and an identical file already stored is the same
// idempotent success. logship receive stores what it streamed through it,
// so that it and archive_command can run together and agree byte for byte.
func PushWALBytes(ctx context.Context, cat *catalog.Catalog, name string, data []byte, opts PushOptions) (PushResult, error) {
	start := time.Now()
	wf, hdr, err := inspectWAL(bytes.NewReader(data), name, int64(len(data)))
	if err != nil {
		return PushResult{}, err
	}
	srcErr := make(chan error, 1)
	go func() { srcErr <- checkSource(ctx, cat, hdr, opts) }()
	res, err := pushData(ctx, cat, wf, hdr, data, opts, srcErr)
	res.Duration = time.Since(start)
	return res, err
}

// CheckStreamSource makes sure a stream of the cluster systemID belongs to
// the source (claiming the source when it has none), as the first push of
// a segment would.
func CheckStreamSource(ctx context.Context, cat *catalog.Catalog, systemID uint64, segmentSize uint32, opts PushOptions) error {
	return checkSource(ctx, cat, &pg.SegmentHeader{SystemID: systemID, SegmentSize: segmentSize}, opts)
}

// pushData stores the content of a WAL file: compressed while the source
// check (srcErr, started by the caller) runs, stored create-only only once
// it answered, then recorded.
func pushData(ctx context.Context, cat *catalog.Catalog, wf pg.WALFile, hdr *pg.SegmentHeader, data []byte, opts PushOptions, srcErr <-chan error) (PushResult, error) {
	name := wf.Name
	// Stored create-only, a bad history or backup history file could never
	// be replaced, and verify would call the store broken for ever.
	if err := checkHistoryContent(wf, data); err != nil {
		<-srcErr
		return PushResult{}, fmt.Errorf("%w: %s: %w", ErrNotWALFile, name, err)
	}
	enc, err := encodeWAL(wf, hdr, name, data, opts)
	if err != nil {
		<-srcErr
		return PushResult{}, err
	}
	if err := <-srcErr; err != nil {
		return PushResult{}, err
	}
	if err := recordSwitchPoints(ctx, cat, wf, data, opts); err != nil {
		return PushResult{}, err
	}
	var sysid uint64
	if hdr != nil {
		sysid = hdr.SystemID
	}
	res, err := storeNew(ctx, cat, name, enc, sysid)
	if err != nil {
		return res, err
	}
	if err := cat.AddWAL(ctx, res.Record); err != nil {
		return res, err
	}
	return res, nil
}

// encodeWAL compresses (and seals, with recipients) the WAL file name.
func encodeWAL(wf pg.WALFile, hdr *pg.SegmentHeader, name string, data []byte, opts PushOptions) (*object.Encoded, error) {
	meta := map[string]string{"timeline": strconv.FormatUint(uint64(wf.Timeline), 10)}
	if hdr != nil {
		meta[catalog.MetaSystemID] = strconv.FormatUint(hdr.SystemID, 10)
		meta[catalog.MetaSegmentSize] = strconv.FormatUint(uint64(hdr.SegmentSize), 10)
	}
	enc, err := object.EncodeBytes(data, kindOf(wf.Kind), name, meta, opts.Encode)
	if err != nil {
		return nil, fmt.Errorf("compress %s: %w", name, err)
	}
	return enc, nil
}

// storeNew stores enc create-only as name. A name already taken is a retry
// (after a crash, or a push ahead that lost its answer) or another push
// that won the race when the stored object holds the same file, and a
// conflict otherwise.
func storeNew(ctx context.Context, cat *catalog.Catalog, name string, enc *object.Encoded, sysid uint64) (PushResult, error) {
	var res PushResult
	res.Record = catalog.WALRecord{Name: name, RawSize: enc.Header.RawSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size(), SystemID: sysid}
	err := cat.PutWAL(ctx, name, enc)
	if errors.Is(err, catalog.ErrExist) {
		if res.Record.StoredSize, err = compareStored(ctx, cat, name, enc.Header.RawSHA256, enc.Header.RawSize); err != nil {
			return res, err
		}
		res.AlreadyStored = true
	} else if err != nil {
		return res, fmt.Errorf("store %s: %w", name, err)
	}
	return res, nil
}

// compareStored checks that the stored object of name holds exactly the
// file with this checksum and size, and returns the stored object's size
// (which the record must describe, whatever compression stored it).
func compareStored(ctx context.Context, cat *catalog.Catalog, name string, sum [32]byte, size int64) (int64, error) {
	h, err := cat.WALHeader(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("%s is already stored and could not be compared: %w", name, err)
	}
	if h.RawSHA256 != sum || h.RawSize != size {
		return 0, fmt.Errorf("%w: %s is stored with sha256 %s (%d bytes) but this file has sha256 %s (%d bytes); "+
			"the stored file was kept. Check that only one cluster archives to source %q",
			ErrConflict, name, h.ChecksumHex(), h.RawSize, hex.EncodeToString(sum[:]), size, cat.SourceName())
	}
	return h.ObjectSize(), nil
}

// inspectWAL validates the name and the size (a history or backup history
// file has a limit), and for segments reads the long page header.
func inspectWAL(f io.ReadSeeker, name string, size int64) (pg.WALFile, *pg.SegmentHeader, error) {
	// The smallest segment size accepts every well-formed name; the real
	// size, known from the file, then checks the name strictly.
	loose, err := pg.ParseWALFileName(name, 1<<20)
	if err != nil {
		return pg.WALFile{}, nil, err
	}
	segSize := uint64(pg.DefaultSegmentSize)
	if loose.Kind == pg.Segment || loose.Kind == pg.Partial {
		if !pg.ValidSegmentSize(uint64(size)) {
			return pg.WALFile{}, nil, fmt.Errorf("%w: %s is %d bytes, which is no WAL segment size", ErrNotWALFile, name, size)
		}
		segSize = uint64(size)
	}
	wf, err := pg.ParseWALFileName(name, segSize)
	if err != nil {
		return pg.WALFile{}, nil, err
	}
	if limit, ok := historyLimit[wf.Kind]; ok && size > limit {
		return wf, nil, fmt.Errorf("%w: %s is %d bytes, more than such a file can be (%d)", ErrNotWALFile, name, size, limit)
	}
	if wf.Kind != pg.Segment && wf.Kind != pg.Partial {
		return wf, nil, nil
	}
	buf := make([]byte, pg.SegmentHeaderSize)
	if _, err := io.ReadFull(f, buf); err != nil {
		return wf, nil, fmt.Errorf("read header of %s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return wf, nil, err
	}
	h, err := pg.ParseSegmentHeader(buf)
	if err != nil {
		return wf, nil, fmt.Errorf("%w: %s: %w", ErrNotWALFile, name, err)
	}
	// The first segment of a new timeline starts as a copy of the old one,
	// so its header may name an older timeline than its file name.
	if uint64(h.SegmentSize) != segSize {
		return wf, nil, fmt.Errorf("%w: %s is %d bytes but its header says %d-byte segments", ErrNotWALFile, name, segSize, h.SegmentSize)
	}
	if err := h.CheckName(wf); err != nil {
		return wf, nil, fmt.Errorf("%w: %w", ErrNotWALFile, err)
	}
	return wf, &h, nil
}

// historyLimit bounds what wal-push reads of a history or backup history
// file before checking it.
var historyLimit = map[pg.WALFileKind]int64{pg.History: pg.MaxHistorySize, pg.BackupHistory: pg.MaxBackupHistorySize}

// checkHistoryContent checks a timeline history file or a backup history
// file the way PostgreSQL writes them; segments are checked by their
// header (inspectWAL).
func checkHistoryContent(wf pg.WALFile, data []byte) error {
	switch wf.Kind {
	case pg.History:
		_, err := pg.CheckHistoryFile(wf.Timeline, data)
		return err
	case pg.BackupHistory:
		f, err := pg.ParseBackupHistory(data)
		if err != nil {
			return err
		}
		return f.CheckName(wf.Name)
	}
	return nil
}

func kindOf(k pg.WALFileKind) object.Kind {
	switch k {
	case pg.History:
		return object.KindHistory
	case pg.BackupHistory:
		return object.KindBackupLabel
	default:
		return object.KindWAL
	}
}
