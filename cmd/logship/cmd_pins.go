package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
)

// pinCommands are catalog keep and unkeep.
func pinCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "keep",
			Usage:     "pin a mark or a backup: purge never deletes it, nor anything it needs",
			ArgsUsage: "NAME|BACKUP-ID",
			Flags:     []cli.Flag{jsonFlag},
			Description: `A pinned mark stays restorable whatever the retention policy: purge keeps the
backup a restore to it starts from, that backup's ancestors and the WAL up to the
mark. A pinned backup is kept with everything it needs. Pins show in catalog list
and status; catalog unkeep removes one. Pinning twice is not an error.

Exit codes: 0 pinned, 1 the store could not be read or written, 2 no mark or
backup of that name, or bad configuration.

Example:
   logship catalog keep before_upgrade
   logship catalog keep 20261127T043300.123Z`,
			Action: withCatalog(catalogKeep, "NAME"),
		},
		{
			Name:      "unkeep",
			Usage:     "remove a pin: purge judges the mark or backup by the policy again",
			ArgsUsage: "NAME|BACKUP-ID",
			Flags:     []cli.Flag{jsonFlag},
			Description: `Exit codes: 0 unpinned, 1 the store could not be read or written, 2 nothing of
that name is pinned, or bad configuration.

Example:
   logship catalog unkeep before_upgrade`,
			Action: withCatalog(catalogUnkeep, "NAME"),
		},
	}
}

func catalogKeep(c *cli.Context, rt *runtime, cat *catalog.Catalog) error {
	p, err := cat.ResolvePin(c.Context, c.Args().First())
	if errors.Is(err, catalog.ErrNotFound) {
		return usageErr(err)
	}
	if err != nil {
		return err
	}
	if err := cat.Keep(c.Context, p); err != nil {
		return err
	}
	return reportPin(c, rt, p, "pinned")
}

func catalogUnkeep(c *cli.Context, rt *runtime, cat *catalog.Catalog) error {
	name := c.Args().First()
	pins, err := cat.Pins(c.Context)
	if err != nil {
		return err
	}
	for _, p := range pins {
		if p.Name != name {
			continue
		}
		if err := cat.Unkeep(c.Context, p); err != nil {
			return err
		}
		return reportPin(c, rt, p, "unpinned")
	}
	return usageErr(fmt.Errorf("%s is not pinned (logship catalog list shows the pins)", name))
}

func reportPin(c *cli.Context, rt *runtime, p catalog.Pin, what string) error {
	if c.Bool("json") {
		// printJSON puts schema_version first; a struct keeps the order.
		return printJSON(rt.stdout, struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Action string `json:"action"`
		}{p.Kind, p.Name, what})
	}
	fmt.Fprintf(rt.stdout, "%s %s\n", what, p)
	return nil
}

// pinList renders pins for one line of text: "mark a, backup b".
func pinList(pins []catalog.Pin) string {
	s := make([]string, len(pins))
	for i, p := range pins {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
