package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/logship/logship/shipper"
	"github.com/logship/logship/store/backends"
)

// groupsKey is the config-file section that names the groups. A member is
// either a source with its server, or the name of an entry of sources:
// (which has its pg):
//
//	groups:
//	  billing:
//	    - source: orders
//	      pg: "host=db1 user=logship"
//	    - source: payments
//	      pg: "host=db2 user=logship"
//	  all:
//	    members: [main, billing]   # entries of sources:
const groupsKey = "groups"

type groupMemberConfig struct {
	Source string `yaml:"source"`
	PG     string `yaml:"pg"`
	// StandbyPort is the port of this member's server under standby
	// --group; 0 takes the next one from --port.
	StandbyPort int `yaml:"standby_port"`
}

// groupMemberKeys are the keys of a member given with its server.
var groupMemberKeys = []string{"source", "pg", "standby_port"}

// loadGroupsConfig reads the groups section of the config file that c
// names (or the default file when it exists).
func loadGroupsConfig(c *cli.Context) (map[string][]shipper.GroupMember, error) {
	cfgs, _, err := loadGroupConfigs(c)
	if err != nil || cfgs == nil {
		return nil, err
	}
	out := make(map[string][]shipper.GroupMember, len(cfgs))
	for name, ms := range cfgs {
		for _, m := range ms {
			out[name] = append(out[name], shipper.GroupMember{Source: m.Source, ConnString: m.PG})
		}
	}
	return out, nil
}

// loadGroupConfigs reads the groups section as written, with the path of
// the file it comes from.
func loadGroupConfigs(c *cli.Context) (map[string][]groupMemberConfig, string, error) {
	f, err := loadConfigFile(c.String("config"))
	if err != nil {
		return nil, "", err
	}
	b, _, err := configBytes(c.String("config"))
	if b == nil || err != nil {
		return nil, f.path, err
	}
	root, err := parseConfig(f.path, b)
	if err != nil || root == nil {
		return nil, f.path, err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == groupsKey {
			groups, err := f.readGroups(root.Content[i+1])
			return groups, f.path, err
		}
	}
	return nil, f.path, nil
}

// readGroups reads the groups: section at node.
func (f *configFile) readGroups(node *yaml.Node) (map[string][]groupMemberConfig, error) {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil, nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, configErr(f.path, node.Line, "groups: want one entry per group (name: [members])")
	}
	if err := noDuplicateKeys(f.path, node); err != nil {
		return nil, err
	}
	out := map[string][]groupMemberConfig{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		name, v := node.Content[i].Value, node.Content[i+1]
		if v.Kind == yaml.MappingNode { // members: [...]
			if len(v.Content) != 2 || v.Content[0].Value != "members" {
				k := v
				if len(v.Content) > 0 {
					k = v.Content[0]
					if k.Value == "members" {
						k = v.Content[2]
					}
				}
				return nil, unknownKey(f.path, k.Line, k.Value, "groups."+name+":", []string{"members"})
			}
			v = v.Content[1]
		}
		if v.Kind != yaml.SequenceNode {
			return nil, configErr(f.path, v.Line, "groups.%s: want a list of members", name)
		}
		for j, m := range v.Content {
			gm, err := f.groupMember(fmt.Sprintf("groups.%s[%d]", name, j), m)
			if err != nil {
				return nil, err
			}
			out[name] = append(out[name], gm)
		}
	}
	return out, nil
}

// groupMember is one member: an entry of sources: by name, or a mapping
// with its source and pg.
func (f *configFile) groupMember(where string, m *yaml.Node) (groupMemberConfig, error) {
	if m.Kind == yaml.ScalarNode {
		if f.sources[m.Value] == nil {
			msg := fmt.Sprintf("%s: %q is not an entry of sources:", where, m.Value)
			if s := nearest(m.Value, f.names); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			return groupMemberConfig{}, configErr(f.path, m.Line, "%s; name one, or give source: and pg:", msg)
		}
		pg := f.sourceSetting(m.Value, "pg")
		if pg == "" {
			return groupMemberConfig{}, configErr(f.path, m.Line, "%s: sources.%s has no pg (nor has the top level)", where, m.Value)
		}
		return groupMemberConfig{Source: m.Value, PG: pg}, nil
	}
	if m.Kind != yaml.MappingNode {
		return groupMemberConfig{}, configErr(f.path, m.Line, "%s: want a source name or source: and pg:", where)
	}
	if err := noDuplicateKeys(f.path, m); err != nil {
		return groupMemberConfig{}, err
	}
	var gm groupMemberConfig
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !slices.Contains(groupMemberKeys, k.Value) {
			return gm, unknownKey(f.path, k.Line, k.Value, "groups:", groupMemberKeys)
		}
		val, err := settingValue(f.path, k, v)
		if err != nil {
			return gm, err
		}
		switch k.Value {
		case "source":
			gm.Source = val
		case "pg":
			gm.PG = val
		case "standby_port":
			if gm.StandbyPort, err = strconv.Atoi(val); err != nil {
				return gm, configErr(f.path, v.Line, "%s: standby_port %q: want a port number", where, val)
			}
		}
	}
	if gm.Source == "" || gm.PG == "" {
		return gm, configErr(f.path, m.Line, "%s: want both source and pg", where)
	}
	return gm, nil
}

// setupGroup is setup for a group mark. With several sources: and no
// --source, the group's first member named from them picks the settings
// (the store above all). Unless --store says otherwise, every member
// named from sources: must be in that store: one group mark writes into
// one store.
func setupGroup(c *cli.Context, group string) (*runtime, error) {
	f, err := loadConfigFile(c.String("config"))
	if err != nil {
		return nil, usageErr(err)
	}
	groups, err := loadGroupsConfig(c)
	if err != nil {
		return nil, usageErr(err)
	}
	var named []string
	for _, m := range groups[group] {
		if f.sources[m.Source] != nil {
			named = append(named, m.Source)
		}
	}
	var rt *runtime
	if c.IsSet("source") || f.top["source"] != "" || len(f.names) <= 1 || len(named) == 0 {
		if rt, err = setup(c); err != nil {
			return nil, err
		}
	} else {
		cfg, err := resolveConfig(c, f, named[0])
		if err != nil {
			return nil, usageErr(err)
		}
		rt = newRuntime(c, cfg)
	}
	for _, n := range named {
		st := f.sourceSetting(n, "store")
		if st == "" {
			st = settingDefault("store")
		}
		if !c.IsSet("store") && st != rt.cfg.Store {
			return nil, usageErr(fmt.Errorf("group %s: member %s is in store %s, not in %s (source %s's): one group mark writes into one store",
				group, n, backends.RedactURL(st), backends.RedactURL(rt.cfg.Store), rt.cfg.Source))
		}
	}
	return rt, nil
}

func settingDefault(name string) string {
	for _, s := range settings {
		if s.name == name {
			return s.def
		}
	}
	return ""
}

// memberFlags is the repeatable --member SOURCE=CONNSTRING. It does its
// own parsing because urfave/cli's slice flags split values at commas,
// which connection strings (several hosts) may contain.
type memberFlags []shipper.GroupMember

func (f *memberFlags) Set(v string) error {
	source, conn, ok := strings.Cut(v, "=")
	if !ok || source == "" || conn == "" {
		return fmt.Errorf("--member %q: want SOURCE=CONNSTRING", v)
	}
	*f = append(*f, shipper.GroupMember{Source: source, ConnString: conn})
	return nil
}

// String names the sources only: connection strings may hold secrets.
func (f *memberFlags) String() string {
	var names []string
	for _, m := range *f {
		names = append(names, m.Source)
	}
	return strings.Join(names, ",")
}

// groupMembers is the group's members from the file, each replaced by the
// --member of the same source, plus the --members the file does not have.
func groupMembers(file, flags []shipper.GroupMember) []shipper.GroupMember {
	out := append([]shipper.GroupMember{}, file...)
	for _, f := range flags {
		replaced := false
		for i := range out {
			if out[i].Source == f.Source {
				out[i], replaced = f, true
			}
		}
		if !replaced {
			out = append(out, f)
		}
	}
	return out
}
