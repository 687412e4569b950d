package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/logship/logship/object"
)

// version is set at build time with -ldflags "-X main.version=…" (the
// Makefile does it from scripts/version); "dev" means it was not.
var version = "dev"

// fullVersion is version, or, when the build did not set it, what the Go
// toolchain recorded: the module version of a `go install …@vX`, else the
// commit of the checkout it was built in, so that a bug report still says
// which code it ran.
func fullVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "0.0.0-dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return strings.TrimPrefix(v, "v")
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "0.0.0-dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += ".dirty"
	}
	return "0.0.0-dev+" + rev
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "logship %s (object format %d)\n", fullVersion(), object.Version)
}
