package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/shipper"
)

// groupsKey is the config-file section that names the groups:
//
//	groups:
//	  billing:
//	    - source: orders
//	      pg: "host=db1 user=logship"
//	    - source: payments
//	      pg: "host=db2 user=logship"
const groupsKey = "groups"

type groupMemberConfig struct {
	Source string `yaml:"source"`
	PG     string `yaml:"pg"`
	// StandbyPort is the port of this member's server under standby
	// --group; 0 takes the next one from --port.
	StandbyPort int `yaml:"standby_port"`
}

// loadGroupsConfig reads the groups section of the config file that c
// names (or the default file when it exists).
func loadGroupsConfig(c *cli.Context) (map[string][]shipper.GroupMember, error) {
	var groups map[string][]groupMemberConfig
	found, path, err := configSection(c, groupsKey, &groups)
	if err != nil || !found {
		return nil, err
	}
	out := map[string][]shipper.GroupMember{}
	for name, members := range groups {
		for i, m := range members {
			if m.Source == "" || m.PG == "" {
				return nil, fmt.Errorf("config file %s: groups.%s[%d]: want both source and pg", path, name, i)
			}
			out[name] = append(out[name], shipper.GroupMember{Source: m.Source, ConnString: m.PG})
		}
	}
	return out, nil
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
