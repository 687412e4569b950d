// Package shipper puts things into the store: WAL files pushed by
// PostgreSQL's archive_command, base backups and marks. The daemon that
// runs them on schedules is package schedule, above this one.
//
// Write order (see docs/FORMAT.md): an object is made durable first, its
// catalog record second, so a record never points at a missing object.
package shipper
