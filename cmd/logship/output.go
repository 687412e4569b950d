package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// jsonSchemaVersion versions every document --json prints (docs/JSON.md).
// Adding a field keeps the version, since consumers ignore unknown fields;
// renaming, removing or retyping one raises it.
const jsonSchemaVersion = 1

// printJSON writes one --json document: v's object with "schema_version"
// first. v must encode to a JSON object; a list goes inside a named field
// (see printJSONList), so that every document can grow fields later.
func printJSON(w io.Writer, v any) error {
	// Not json.Marshal: its HTML escaping would print restore's
	// start_command with \u0026 for "&&".
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if len(b) < 2 || b[0] != '{' {
		return fmt.Errorf("internal error: a --json document must be an object, not %.20s", b)
	}
	doc := fmt.Appendf(nil, `{"schema_version":%d`, jsonSchemaVersion)
	if !bytes.Equal(b, []byte("{}")) {
		doc = append(doc, ',')
	}
	doc = append(doc, b[1:]...)
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

// printJSONList writes a list as the field name of a --json document.
func printJSONList[T any](w io.Writer, name string, items []T) error {
	if items == nil {
		items = []T{}
	}
	return printJSON(w, map[string][]T{name: items})
}
