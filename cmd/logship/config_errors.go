package main

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config errors name the file, the line and the key, never a Go type:
// "logship.yaml:7: unknown key "bakup" in jobs: (did you mean backup?)".

// configErr is an error at line of the config file at path (line 0: the
// file as a whole).
func configErr(path string, line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("config file %s: %s", path, fmt.Sprintf(format, args...))
}

// unknownKey reports key at line, with the known key nearest to it.
func unknownKey(path string, line int, key, where string, known []string) error {
	msg := fmt.Sprintf("unknown key %q", key)
	if where != "" {
		msg += " in " + where
	}
	if s := nearest(key, known); s != "" {
		msg += " (did you mean " + s + "?)"
	} else if len(known) > 0 && len(known) <= 12 {
		msg += " (known keys: " + strings.Join(known, ", ") + ")"
	}
	return configErr(path, line, "%s", msg)
}

var (
	yamlLineRE     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlFieldRE    = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	yamlUnmarshRE  = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
	yamlAlreadyDef = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
)

// yamlErr rewrites an error of yaml.v3 about the file at path: its
// "line N: field X not found in type main.T" become FILE:N: messages that
// name the key. section is the section being decoded ("" for the whole
// file), typ the Go type decoded into (for the keys it knows), root the
// section's node (to name the key of a value of the wrong type).
func yamlErr(path, section string, typ reflect.Type, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	// One line, as every error of logship: several are joined with "; ".
	var out []string
	for _, m := range msgs {
		out = append(out, yamlMsg(path, section, typ, root, m).Error())
	}
	return errors.New(strings.Join(out, "; "))
}

func yamlMsg(path, section string, typ reflect.Type, root *yaml.Node, msg string) error {
	where := section
	if where != "" {
		where += ":"
	}
	lm := yamlLineRE.FindStringSubmatch(msg)
	if lm == nil {
		return configErr(path, 0, "%s", strings.TrimPrefix(msg, "yaml: "))
	}
	line, _ := strconv.Atoi(lm[1])
	rest := lm[2]
	if m := yamlFieldRE.FindStringSubmatch(rest); m != nil {
		return unknownKey(path, line, m[1], where, yamlKeysOf(typ, m[2]))
	}
	if m := yamlUnmarshRE.FindStringSubmatch(rest); m != nil {
		what := "value"
		if m[2] != "" {
			what = strconv.Quote(m[2])
		}
		name := section
		if k := keyAtLine(root, line); k != "" {
			name = section + "." + k
		}
		return configErr(path, line, "%s: %s is %s, want %s", name, what, yamlKind(m[1]), goKind(m[3]))
	}
	if m := yamlAlreadyDef.FindStringSubmatch(rest); m != nil {
		return configErr(path, line, "key %q is given twice (first at line %s)", m[1], m[2])
	}
	return configErr(path, line, "%s", rest)
}

// yamlKeysOf is the yaml keys of the struct type named goName ("main.T")
// found in typ or in the types it holds.
func yamlKeysOf(typ reflect.Type, goName string) []string {
	seen := map[reflect.Type]bool{}
	var find func(t reflect.Type) []string
	find = func(t reflect.Type) []string {
		if t == nil || seen[t] {
			return nil
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			return find(t.Elem())
		case reflect.Struct:
		default:
			return nil
		}
		if t.String() == goName {
			var keys []string
			for i := 0; i < t.NumField(); i++ {
				if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
					keys = append(keys, k)
				}
			}
			return keys
		}
		for i := 0; i < t.NumField(); i++ {
			if k := find(t.Field(i).Type); k != nil {
				return k
			}
		}
		return nil
	}
	return find(typ)
}

// keyAtLine is the key (dotted from node) whose key or value starts at
// line; "" if none does.
func keyAtLine(node *yaml.Node, line int) string {
	if node == nil {
		return ""
	}
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if sub := keyAtLine(v, line); sub != "" {
				return k.Value + "." + sub
			}
			if k.Line == line || v.Line == line {
				return k.Value
			}
		}
	case yaml.SequenceNode:
		for i, v := range node.Content {
			if sub := keyAtLine(v, line); sub != "" {
				return fmt.Sprintf("[%d].%s", i, sub)
			}
		}
	}
	return ""
}

func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "text"
	case "int", "float":
		return "a number"
	case "bool":
		return "true/false"
	case "seq":
		return "a list"
	case "map":
		return "a mapping (key: value)"
	case "null":
		return "empty"
	}
	return "a " + tag
}

func goKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "text"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	}
	return "a mapping (key: value)"
}

// nearest is the candidate close enough to s to be a typo of it (as
// didYouMean judges); "" if none is.
func nearest(s string, candidates []string) string {
	sorted := append([]string{}, candidates...)
	sort.Strings(sorted)
	return strings.TrimSuffix(strings.TrimPrefix(didYouMean(s, sorted, ""), "did you mean "), "?")
}
