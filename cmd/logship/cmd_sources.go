package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
)

func sourcesCommand() *cli.Command {
	return &cli.Command{
		Name:  "sources",
		Usage: "list the sources (clusters) that have shipped to the store",
		Description: `Lists every source of the store: the names that have a source record, each with its
system identifier and when it was first shipped to. Reading commands (status, catalog
list, catalog show) refuse a --source that is not among them, naming these. It reads the
store's whole listing, so it takes a while on a large S3 store.

Exit codes: 0 listed (also when there are none), 1 the store could not be read, 2 bad
configuration.

Example:
   logship --store file:///backup sources
   logship sources --json | jq -r '.sources[].name'`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if err := needArgs(c); err != nil {
				return err
			}
			rt, cat, err := setupCatalog(c)
			if err != nil {
				return err
			}
			srcs, err := cat.StoreSources(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if srcs == nil {
					srcs = []catalog.Source{}
				}
				return printJSON(rt.stdout, struct {
					Store   string           `json:"store"`
					Sources []catalog.Source `json:"sources"`
				}{cat.StoreURL(), srcs})
			}
			if len(srcs) == 0 {
				fmt.Fprintf(rt.stdout, "no sources in %s yet: nothing was shipped there\n", cat.StoreURL())
				return nil
			}
			tw := tabwriter.NewWriter(rt.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tSYSTEM\tSEGMENT SIZE\tCREATED")
			for _, s := range srcs {
				fmt.Fprintf(tw, "%s\t%d\t%d MiB\t%s\n", s.Name, s.SystemID, s.SegmentSize>>20, s.Created.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

// setupKnownCatalog is setupCatalog for reading commands: a --source with
// nothing shipped is an error naming the sources the store has, not an
// empty source, and nothing is written.
func setupKnownCatalog(c *cli.Context) (*runtime, *catalog.Catalog, error) {
	rt, cat, err := setupCatalog(c)
	if err != nil {
		return nil, nil, err
	}
	if err := cat.RequireSource(c.Context); err != nil {
		if errors.Is(err, catalog.ErrUnknownSource) {
			return nil, nil, usageErr(err)
		}
		return nil, nil, err
	}
	return rt, cat, nil
}
