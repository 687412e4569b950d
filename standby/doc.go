// Package standby keeps restored servers at the newest mark of their
// source: each step replays to a mark's exact LSN and pauses there, open
// read-only, and a failover promotes them at the mark they stand on. It
// sits above restore and catalog; only cmd uses it.
package standby
