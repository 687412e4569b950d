// Command logship-push is what archive_command runs: a thin client of the
// resident shipper (see docs/RESIDENT.md). It takes logship's global flags
// and the WAL file's path, exactly as `logship [flags] wal-push PATH`
// does, and exits as wal-push would: 0 only once the file is durable.
//
//	archive_command = 'logship-push --store s3://bucket/prefix %p'
//
// It links the standard library only, so that it starts in about a
// millisecond; when no resident can serve it, it runs logship wal-push.
package main

import (
	"os"

	"github.com/logship/logship/resident/client"
)

func main() {
	os.Exit(client.Main(os.Args[1:], os.Stderr))
}
