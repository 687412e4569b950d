package main_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/store/backends"
)

// receiveStore is where a receive acceptance test keeps its WAL: the
// store flags logship runs with, the environment the archiver needs to
// reach it (AWS credentials on S3), and its catalog opened in process.
type receiveStore struct {
	flags []string
	env   []string
	open  func(t *testing.T) *catalog.Catalog
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
	return receiveStore{flags: flags, env: env, open: func(t *testing.T) *catalog.Catalog {
		t.Helper()
		st, err := backends.Open(context.Background(), url, backends.Options{S3Endpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		return catalog.New(st, source)
	}}
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
