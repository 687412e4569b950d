package main_test

import (
	"bytes"
	"testing"

	"github.com/logship/logship/crypt"
	"github.com/logship/logship/internal/pgtest"
)

// With --encrypt-to, the receiver seals pieces and segments as wal-push
// does: no stored byte shows the data, and the identity opens segments
// identical to the ones archive_command stores in clear elsewhere.
func TestReceiveEncrypts(t *testing.T) {
	t.Parallel()
	c, archiveDir, _ := archivingCluster(t, defaultPG, "enc")
	idFile, recipient, _ := newIdentity(t)
	recvDir := pgtest.TempDir(t, "logship-recv-")
	recvFlags := []string{"--store", "file://" + recvDir, "--source", "enc", "--encrypt-to", recipient}
	r := startReceiver(t, c, recvFlags, "--partial-interval", "100ms")
	waitStreaming(t, c, "logship_enc")
	marker := "receive-secret-7b1e3c"
	c.Exec(t, "CREATE TABLE s (v text)")
	c.Exec(t, "INSERT INTO s SELECT $1 || g FROM generate_series(1, 2000) g", marker)
	last := switchWAL(t, c)
	waitArchived(t, c, last)
	recv, arch := openCatalog(t, recvDir, "enc"), openCatalog(t, archiveDir, "enc")
	waitRecorded(t, c, recv, last)
	r.stop(t)
	if hits := grepTree(t, recvDir, []byte(marker)); len(hits) > 0 {
		t.Fatalf("the marker is readable in %v", hits)
	}
	if hits := grepTree(t, archiveDir, []byte(marker)); len(hits) == 0 {
		t.Fatalf("the marker is not even in the clear archive: the test proves nothing")
	}
	ids, err := crypt.LoadIdentities(idFile)
	if err != nil {
		t.Fatal(err)
	}
	recv.SetDecrypter(ids)
	if !bytes.Equal(rawWAL(t, recv, last), rawWAL(t, arch, last)) {
		t.Fatalf("%s: decrypted, the receiver's segment differs from wal-push's", last)
	}
}
