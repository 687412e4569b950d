// Package server runs PostgreSQL: it finds the programs (a given directory,
// PATH, pg_config, /usr/lib/postgresql), runs them as the postgres OS user
// when the caller is root, reads and appends postgresql.conf and
// postgresql.auto.conf, starts a server and waits for a state, reads its
// log for the reason it stopped, and stops it.
//
// Both the product (restore --start) and the test harness (internal/pgtest)
// run PostgreSQL through it, so the two cannot drift apart. It imports only
// the standard library and package pg.
package server
