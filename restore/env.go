package restore

import "strings"

// serverEnv is the environment of a restored server, from logship's own.
// Left out:
//   - PG* variables: PGPORT and friends would redirect the server or its
//     restore command, PGDATA would point pg tools elsewhere, and
//     PGPASSWORD is the source's password;
//   - LOGSHIP_PG, the connection string to the source, which may hold its
//     password: the restored server runs only wal-fetch, which never
//     connects to the source, and anyone who can read the server's
//     /proc/<pid>/environ (its OS user, root) must not learn the source's
//     password from it;
//   - HOME, which the caller sets for the user the server runs as.
//
// The rest stays: the restore command needs LOGSHIP_STORE, the AWS
// settings and the like.
func serverEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PG") || name == "HOME" || name == "LOGSHIP_PG" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
