// Package s3 is the store.Store backend for S3 and S3-compatible object
// storage (s3://bucket/prefix), on aws-sdk-go-v2.
//
// What it guarantees beyond the SDK:
//
//   - Put is create-only: If-None-Match: * on PutObject and on
//     CompleteMultipartUpload, 412 becoming store.ErrExist. A server
//     without conditional writes can be used with ConditionalWrites "off",
//     which checks with HEAD first and so can lose a race.
//   - Every upload carries a SHA-256 checksum that the server verifies
//     before it stores anything, so a corrupted transfer is refused, and an
//     object is visible whole or not at all (multipart uploads are aborted
//     on any failure).
//   - No request can hang: each attempt has a deadline (RequestTimeout),
//     reads fail after RequestTimeout of silence, and attempts are bounded
//     (MaxAttempts) with backoff on throttling, 5xx, resets and timeouts.
//   - Get resumes a cut download with a Range request from the byte it
//     reached; when it cannot, the read fails. It never ends early with
//     io.EOF.
//   - Only a positive "no such key" is store.ErrNotExist.
//
// Credentials come only from the standard AWS chain (environment, shared
// config and profile, web identity, instance role) and never appear in
// errors or logs.
//
// Tests run against a real server: see scripts/s3server.
package s3
