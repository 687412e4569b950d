package main

import (
	"reflect"
	"regexp"

	"github.com/urfave/cli/v2"
)

// usageDefault is a default written into a flag's usage, as "(default 5m)"
// or "(default: jobs.keep-backups)", at its end.
var usageDefault = regexp.MustCompile(`\s*\(default:? ([^()]*)\)\s*$`)

// oneDefault moves a default written into a flag's usage to its
// DefaultText, where urfave/cli prints it as "(default: …)", because the
// framework would print its own default as well, the zero value of a flag
// whose real default depends on the configuration: "(default 5m)
// (default: 0s)". Help then shows one default per flag, however the flag
// was declared.
func oneDefault(flags []cli.Flag) {
	for _, f := range flags {
		if b, ok := f.(*cli.BoolFlag); ok && !b.Value {
			// A switch is off unless given: "(default: false)" says nothing.
			b.DisableDefaultText = true
		}
		v := reflect.ValueOf(f)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			continue
		}
		usage, text := v.Elem().FieldByName("Usage"), v.Elem().FieldByName("DefaultText")
		if !usage.IsValid() || !text.IsValid() || !usage.CanSet() || !text.CanSet() {
			continue
		}
		m := usageDefault.FindStringSubmatchIndex(usage.String())
		if m == nil {
			continue
		}
		s := usage.String()
		text.SetString(s[m[2]:m[3]])
		usage.SetString(s[:m[0]])
	}
}
