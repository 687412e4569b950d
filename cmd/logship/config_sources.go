package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/logship/logship/catalog"
)

// sourcesKey is the config-file section naming several sources, each with
// its own settings (like pgBackRest's stanzas):
//
//	sources:
//	  main:
//	    pg: "host=/var/run/postgresql user=postgres"
//	    store: s3://bkp/pg
//	  billing:
//	    pg: "host=db2 user=logship"
//	    store: file:///var/lib/logship
//
// --source NAME picks one; its keys (any global setting but source) come
// between the environment and the file's top-level keys. schedule without
// --source runs them all, with the top-level jobs: for each.
const sourcesKey = "sources"

// readSources reads the sources: section at node.
func (f *configFile) readSources(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return configErr(f.path, node.Line, "sources: want one entry per source (name: {pg: ..., store: ...})")
	}
	f.sources = map[string]map[string]string{}
	var known []string
	for _, s := range settings {
		if s.name != "source" {
			known = append(known, s.name)
		}
	}
	if err := noDuplicateKeys(f.path, node); err != nil {
		return err
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if err := catalog.ValidSourceName(k.Value); err != nil {
			return configErr(f.path, k.Line, "sources: %v", err)
		}
		if v.Kind != yaml.MappingNode {
			return configErr(f.path, v.Line, "sources.%s: want its settings (pg: ..., store: ...)", k.Value)
		}
		if err := noDuplicateKeys(f.path, v); err != nil {
			return err
		}
		set := map[string]string{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			sk, sv := v.Content[j], v.Content[j+1]
			if !slices.Contains(known, sk.Value) {
				return unknownKey(f.path, sk.Line, sk.Value, "sources."+k.Value+":", known)
			}
			val, err := settingValue(f.path, sk, sv)
			if err != nil {
				return err
			}
			set[sk.Value] = val
		}
		f.sources[k.Value] = set
		f.names = append(f.names, k.Value)
	}
	return nil
}

// pickSource is the source a command works on: --source (or
// LOGSHIP_SOURCE), else the file's source key, else the only entry of
// sources:, else the default. With a sources: section, the source must be
// one of its entries: a misspelt name must not quietly use the top-level
// settings.
func (f *configFile) pickSource(c *cli.Context) (string, error) {
	name, from := "main", "the default source"
	switch {
	case c.IsSet("source"):
		name, from = c.String("source"), "--source"
	case f.top["source"] != "":
		name, from = f.top["source"], "the config file's source key"
	case len(f.names) == 1:
		return f.names[0], nil
	case len(f.names) > 1:
		return "", fmt.Errorf("config file %s has several sources (%s): pick one with --source",
			f.path, strings.Join(f.names, ", "))
	}
	if len(f.names) == 0 || f.sources[name] != nil {
		return name, nil
	}
	msg := fmt.Sprintf("%s %q is not in the sources: of config file %s (%s)", from, name, f.path, strings.Join(f.names, ", "))
	if s := nearest(name, f.names); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return "", fmt.Errorf("%s", msg)
}

// sourceSetting is a setting of the source name as the file gives it:
// sources.<name>.<key>, else the top-level key.
func (f *configFile) sourceSetting(name, key string) string {
	if v, ok := f.sources[name][key]; ok {
		return v
	}
	return f.top[key]
}

// newRuntime is the runtime of the resolved cfg, as setup makes it.
func newRuntime(c *cli.Context, cfg Config) *runtime {
	return &runtime{cfg: cfg, log: newLogger(c.App.ErrWriter, cfg), stdout: c.App.Writer, stderr: c.App.ErrWriter}
}
