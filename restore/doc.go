// Package restore gets things out of the store: WAL files for PostgreSQL's
// restore_command, and whole data directories restored to a target.
//
// Nothing corrupt is ever handed to PostgreSQL: every byte is checked
// against its checksum before it appears under the name PostgreSQL reads.
package restore
