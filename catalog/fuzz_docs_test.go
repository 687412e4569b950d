package catalog_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
)

// remarshalStable checks that v (just unmarshalled) marshals to JSON that
// unmarshals into fresh (a pointer to a zero value of v's type) and
// marshals to the same bytes again: a record read back and written again
// does not drift.
func remarshalStable(t *testing.T, v, fresh any) {
	t.Helper()
	b1, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted %+v cannot be marshalled: %v", v, err)
	}
	if err := json.Unmarshal(b1, fresh); err != nil {
		t.Fatalf("marshalled %s does not unmarshal: %v", b1, err)
	}
	b2, err := json.Marshal(fresh)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("marshalled %s, then %s (%v)", b1, b2, err)
	}
}

// withDeadline runs fn and fails if it takes longer than a sane bound: a
// record from the store must not make the catalog loop for ever.
func withDeadline(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not finish in 10 s", what)
	}
}

func FuzzSourceRecord(f *testing.F) {
	f.Add([]byte(`{"name":"src","system_id":"7312345678901234567","segment_size":16777216,"created":"2026-11-27T04:33:00Z"}`))
	f.Add([]byte(`{"name":"src","system_id":7,"segment_size":3,"created":"2026-11-27T04:33:00.123456789+02:00"}`))
	f.Add([]byte(`{"segment_size":0}`))
	f.Add([]byte(`{"system_id":"-1"}`))
	f.Add([]byte(`null`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, doc []byte) {
		st := newFuzzStore()
		cat := catalog.New(st, fuzzSource)
		if err := st.Put(ctx, fuzzSource+"/catalog/source", bytes.NewReader(doc), int64(len(doc))); err != nil {
			t.Fatal(err)
		}
		s, err := cat.Source(ctx)
		if err != nil {
			return
		}
		remarshalStable(t, s, new(catalog.Source))
		// Written back by the catalog itself, it reads back the same.
		again := catalog.New(newFuzzStore(), fuzzSource)
		s.Name = fuzzSource
		if _, err := again.ClaimSource(ctx, s); err != nil {
			t.Fatal(err)
		}
		back, err := again.Source(ctx)
		if err != nil || back.SystemID != s.SystemID || back.SegmentSize != s.SegmentSize || !back.Created.Equal(s.Created) {
			t.Fatalf("source %+v written and read back as %+v (%v)", s, back, err)
		}
		// Whatever segment size it claims, the chain must be usable.
		withDeadline(t, "Chain", func() {
			if _, err := cat.Chain(ctx); err != nil {
				t.Errorf("Chain with source %+v: %v", s, err)
			}
		})
	})
}

// FuzzBackupRecord reads an arbitrary backup record and mark record key,
// then lets the chain, verify and purge planning work with them beside a
// few good segments.
func FuzzBackupRecord(f *testing.F) {
	good := catalog.Backup{ID: "20261127T043300Z", Label: "l", Source: fuzzSource, SystemID: 1, ServerVersion: 150018,
		Timeline: 1, StartLSN: 0x2000028, EndLSN: 0x3000100,
		StartWAL: "000000010000000000000002", EndWAL: "000000010000000000000003",
		StartTime: time.Date(2026, 11, 27, 4, 33, 0, 0, time.UTC), EndTime: time.Date(2026, 11, 27, 4, 34, 0, 0, time.UTC),
		RawSize: 100, StoredSize: 50, Compression: "zstd", ManifestKey: "src/backups/20261127T043300Z/backup_manifest",
		Parts: []catalog.BackupPart{{Key: "src/backups/20261127T043300Z/part-0000", RawSize: 100, SHA256: strings.Repeat("0", 64), StoredSize: 50}}}
	b, _ := json.Marshal(good)
	mark := "m1~0000000003000090~1~1764560000000000000"
	f.Add(b, mark)
	f.Add(b, "m2~1000000000000000~1~1764560000000000000")
	f.Add([]byte(strings.Replace(string(b), `"end_lsn_value":50331904`, `"end_lsn_value":1`, 1)), mark)
	f.Add([]byte(strings.Replace(string(b), `"start_lsn_value":33554472`, `"start_lsn_value":0`, 1)), mark)
	f.Add([]byte(strings.Replace(string(b), `"timeline":1`, `"timeline":0`, 1)), mark)
	f.Add([]byte(strings.Replace(string(b), `"end_lsn_value":50331904`, `"end_lsn_value":1152921504606846976`, 1)), mark)
	f.Add([]byte(`{"id":"x","parts":null}`), mark)
	versioned := good
	versioned.Parts = []catalog.BackupPart{{Key: good.Parts[0].Key, RawSize: 100, SHA256: strings.Repeat("0", 64), StoredSize: 50, VersionID: "3/L4kq+x"}}
	versioned.ManifestVersionID = "01M8SJAJ7Z4J9A174WWH3D8WBG"
	vb, _ := json.Marshal(versioned)
	f.Add(vb, mark)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, doc []byte, markRel string) {
		st := newFuzzStore()
		cat := catalog.New(st, fuzzSource)
		if err := st.Put(ctx, fuzzSource+"/catalog/marks/"+markRel, bytes.NewReader(nil), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 1, SegmentSize: pg.DefaultSegmentSize, Created: now}); err != nil {
			t.Fatal(err)
		}
		for n := uint64(1); n <= 4; n++ {
			r := catalog.WALRecord{Name: pg.SegmentName(1, n, pg.DefaultSegmentSize), RawSize: pg.DefaultSegmentSize, SHA256: strings.Repeat("0", 64), StoredSize: 10, SystemID: 1}
			if err := cat.AddWAL(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Put(ctx, fuzzSource+"/catalog/backups/B.json", bytes.NewReader(doc), int64(len(doc))); err != nil {
			t.Fatal(err)
		}
		bs, err := cat.Backups(ctx)
		if err != nil {
			return
		}
		if len(bs) != 1 {
			t.Fatalf("one record listed as %d backups", len(bs))
		}
		remarshalStable(t, bs[0], new(catalog.Backup))
		withDeadline(t, "chain, verify and purge planning", func() {
			// Errors are fine (a malformed mark key is one); a crash or a
			// hang is not.
			if _, err := cat.Chain(ctx); err != nil {
				return
			}
			_, _ = cat.Verify(ctx, catalog.VerifyOptions{Now: func() time.Time { return now }})
			_, _ = cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 1}, now)
		})
	})
}

// FuzzMarkDoc rebuilds the catalog from an arbitrary mark object: what
// rebuild records must list again, as a mark whose name is valid.
func FuzzMarkDoc(f *testing.F) {
	f.Add([]byte(`{"name":"m1","lsn":"0/3000090","timeline":1,"time":"2026-11-27T04:33:00Z","source":"src","lsn_value":50331792}`), "m1")
	f.Add([]byte(`{"name":"a~b","lsn_value":1,"timeline":1,"time":"2026-11-27T04:33:00Z"}`), "a~b")
	f.Add([]byte(`{"name":"../x","lsn_value":1}`), "x")
	f.Add([]byte(`{"name":"","time":"0001-01-01T00:00:00Z"}`), "m")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, doc []byte, name string) {
		if catalog.ValidMarkName(name) != nil {
			name = "m"
		}
		st := newFuzzStore()
		cat := catalog.New(st, fuzzSource)
		enc, err := object.Encode(bytes.NewReader(doc), object.KindMeta, name, nil, object.EncodeOptions{Compression: object.None})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, cat.MarkObjectKey(name), enc.Reader(), enc.Size()); err != nil {
			t.Fatal(err)
		}
		if _, err := cat.Rebuild(ctx); err != nil {
			return
		}
		marks, err := cat.Marks(ctx)
		if err != nil {
			t.Fatalf("after rebuild from %s: Marks: %v", doc, err)
		}
		var d struct {
			catalog.Mark
			LSNValue uint64 `json:"lsn_value"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatalf("rebuild accepted %s, which does not unmarshal: %v", doc, err)
		}
		if len(marks) != 1 {
			t.Fatalf("rebuild from %s recorded %d marks", doc, len(marks))
		}
		m := marks[0]
		if err := catalog.ValidMarkName(m.Name); err != nil || m.Name != name {
			t.Fatalf("rebuild of object %q from %s recorded mark %+v (%v)", name, doc, m, err)
		}
		if uint64(m.LSN) != d.LSNValue || m.Timeline != d.Timeline || !m.Time.Equal(d.Time) {
			t.Fatalf("rebuild from %s recorded mark %+v", doc, m)
		}
	})
}

// FuzzVerifyProgress gives a deep verify an arbitrary progress record: a
// malformed one is a warning (what it covered is checked again), never a
// failed run, and a well-formed one is read.
func FuzzVerifyProgress(f *testing.F) {
	id := strings.Repeat("0123456789abcdef", 2)
	for _, s := range []string{
		"logship-verify-progress 1\n" + id + " 000000010000000000000001\n",
		"logship-verify-progress 1\n", "logship-verify-progress 1\n\n" + id + "\n",
		"logship-verify-progress 2\n", "logship-verify-progress 1\n" + id[:31] + "\n", "",
		"logship-verify-progress 1\n" + strings.ToUpper(id) + " x\n",
	} {
		f.Add([]byte(s), true)
	}
	f.Add([]byte("\x89LSO\r\n\x1a\n"), false)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, encode bool) {
		st := newFuzzStore()
		cat := catalog.New(st, fuzzSource)
		if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 1, SegmentSize: pg.DefaultSegmentSize, Created: now}); err != nil {
			t.Fatal(err)
		}
		obj := body
		if encode {
			enc, err := object.Encode(bytes.NewReader(body), object.KindMeta, "verify-progress", nil, object.EncodeOptions{Compression: object.None})
			if err != nil {
				t.Fatal(err)
			}
			obj = enc.Bytes()
		}
		key := fuzzSource + "/verify/20261130T000000.000000000Z-00000000.snapshot"
		if err := st.Put(ctx, key, bytes.NewReader(obj), int64(len(obj))); err != nil {
			t.Fatal(err)
		}
		rep, err := cat.Verify(ctx, catalog.VerifyOptions{Deep: true, NoRecord: true, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatalf("a progress record failed the run: %v", err)
		}
		warned := false
		for _, p := range rep.Problems {
			warned = warned || p.Code == catalog.CodeProgress
		}
		read := rep.DeepStats != nil && rep.DeepStats.ProgressReads == 1
		if want := encode && wellFormedProgress(body); read != want || warned == want {
			t.Fatalf("progress record %q (encoded %v): read %v, warned %v; want read %v", body, encode, read, warned, want)
		}
	})
}

// wellFormedProgress is the progress record format, written out apart
// from the reader: a magic line, then lines that start with a 32-digit
// hex ID (the name after it is for people).
func wellFormedProgress(b []byte) bool {
	lines := strings.Split(string(b), "\n")
	if lines[0] != "logship-verify-progress 1" {
		return false
	}
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if len(l) < 32 {
			return false
		}
		if _, err := hex.DecodeString(l[:32]); err != nil {
			return false
		}
	}
	return true
}
