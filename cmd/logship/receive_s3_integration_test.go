package main_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/backends"
)

// receiveStore is where a receive acceptance test keeps its WAL: the
// store flags logship runs with, the environment the archiver needs to
// reach it (AWS credentials on S3), its catalog opened in process, and the
// hash of every WAL and piece object and record in it (by key or path).
type receiveStore struct {
	flags []string
	env   []string
	open  func(t *testing.T) *catalog.Catalog
	sums  func(t *testing.T) map[string][32]byte
}

// newReceiveStore makes a fresh store for source; the two kinds are
// fileStore and s3Store.
type newReceiveStore func(t *testing.T, source string) receiveStore

// fileStore is a fresh file:// store in a directory the postgres OS user
// can write.
func fileStore(t *testing.T, source string) receiveStore {
	t.Helper()
	pgtest.Require(t)
	dir := pgtest.TempDir(t, "logship-store-")
	return receiveStore{
		flags: []string{"--store", "file://" + dir, "--source", source},
		open:  func(t *testing.T) *catalog.Catalog { return openCatalog(t, dir, source) },
		sums:  func(t *testing.T) map[string][32]byte { return fileSums(t, dir) },
	}
}

// s3Store is a fresh prefix on the test S3 server (scripts/s3server); it
// skips the test when there is none, as s3Flags does.
func s3Store(t *testing.T, source string) receiveStore {
	t.Helper()
	flags := s3Flags(t)
	if n := len(flags); n < 2 || flags[n-2] != "--source" {
		t.Fatalf("s3Flags: %v does not end with --source", flags)
	}
	flags[len(flags)-1] = source
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	url, endpoint := flags[1], os.Getenv("LOGSHIP_TEST_S3_ENDPOINT")
	open := func(t *testing.T) store.Store {
		t.Helper()
		st, err := backends.Open(context.Background(), url, backends.Options{S3Endpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	return receiveStore{flags: flags, env: env,
		open: func(t *testing.T) *catalog.Catalog { return catalog.New(open(t), source) },
		sums: func(t *testing.T) map[string][32]byte { return s3Sums(t, open(t)) },
	}
}

// s3Sums hashes every WAL and piece object and record in st.
func s3Sums(t *testing.T, st store.Store) map[string][32]byte {
	t.Helper()
	ctx := context.Background()
	sums := map[string][32]byte{}
	err := st.List(ctx, "", func(oi store.ObjectInfo) error {
		if k := "/" + oi.Key; !strings.Contains(k, "/wal/") && !strings.Contains(k, "/wal-stream/") {
			return nil
		}
		rc, err := st.Get(ctx, oi.Key)
		if errors.Is(err, store.ErrNotExist) {
			return nil // a piece dropped meanwhile
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			return fmt.Errorf("read %s: %w", oi.Key, err)
		}
		sums[oi.Key] = [32]byte(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// archivingClusterIn starts a cluster whose archive_command is logship
// wal-push into st.
func archivingClusterIn(t *testing.T, v pgtest.Version, st receiveStore, conf ...string) *pgtest.Cluster {
	t.Helper()
	return archivingClusterOn(t, v, st.flags, st.env, conf...)
}

// The receive acceptance tests again with S3 as the store, for the
// receiver and the archiver alike. They run on the default PostgreSQL only
// (the file:// runs cover the version matrix) and skip without an S3
// server.

// Every acknowledged commit is restored from S3 after the primary dies
// under a synchronous receiver.
func TestReceiveS3SynchronousLosesNothing(t *testing.T) {
	t.Parallel()
	testReceiveCrash(t, defaultPG, true, s3Store)
}

// The asynchronous receiver on S3 loses a measured amount, not everything.
func TestReceiveS3AsynchronousLoss(t *testing.T) {
	t.Parallel()
	testReceiveCrash(t, defaultPG, false, s3Store)
}

// The receiver and wal-push store the same bytes on S3.
func TestReceiveS3MatchesWALPush(t *testing.T) {
	t.Parallel()
	testReceiveMatchesWALPushIn(t, defaultPG, s3Store)
}

// s3Kills is how many times TestReceiveS3KilledAtRandom kills the receiver:
// few, for CI's time; the file:// run kills it 50 times.
const s3Kills = 5

// The receiver killed at random moments while it stores into S3: no
// object changes, the streamed tails agree, the restores to marks are exact.
func TestReceiveS3KilledAtRandom(t *testing.T) {
	t.Parallel()
	testReceiveKilledAtRandomIn(t, defaultPG, s3Store, s3Kills)
}
