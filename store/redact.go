package store

import "strings"

// RedactURL is raw fit for an error message or a log: the user information
// of the URL (which may hold a key and its secret) and any query or
// fragment (which may hold a token) are replaced by "REDACTED". It works on
// the text rather than on url.Parse's result, so that a URL too malformed
// to parse is redacted as well; a path that holds '@' loses its start.
func RedactURL(raw string) string {
	s, tail := raw, ""
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s, tail = s[:i], s[i:i+1]+"REDACTED"
	}
	start := 0
	if j := strings.Index(s, "://"); j >= 0 {
		start = j + len("://")
	} else if j := strings.IndexByte(s, ':'); j >= 0 {
		start = j + 1
	}
	if i := strings.LastIndexByte(s, '@'); i >= start {
		s = s[:start] + "REDACTED@" + s[i+1:]
	}
	return s + tail
}
