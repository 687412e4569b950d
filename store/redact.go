package store

import "strings"

// RedactURL is a store URL as error messages may show it: without a user
// or password (anything before an "@" in the authority) and without a query
// or fragment, where presigned tokens and keys end up. A message about a
// malformed URL must help to find the typo without printing the secret that
// was pasted along with it.
func RedactURL(raw string) string {
	s := raw
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?<redacted>"
	}
	// The authority follows "scheme://" (or "scheme:" in an opaque URL)
	// and ends at the next "/".
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	} else if i := strings.Index(s, ":"); i >= 0 {
		start = i + 1
	}
	end := len(s)
	if i := strings.Index(s[start:], "/"); i >= 0 {
		end = start + i
	}
	if at := strings.LastIndex(s[start:end], "@"); at >= 0 {
		s = s[:start] + "<redacted>@" + s[start+at+1:]
	}
	return s
}
