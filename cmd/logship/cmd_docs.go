package main

import (
	_ "embed"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// The completion scripts call `logship … --generate-bash-completion`,
// which urfave/cli answers with the commands and flags that fit there.
var (
	//go:embed completion/logship.bash
	bashCompletion string
	//go:embed completion/_logship
	zshCompletion string
)

// manCommand prints the manual page, generated from the commands and
// flags themselves so that it cannot drift from --help. Hidden: it is for
// `make install` and packagers.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Hidden:    true,
		Usage:     "print the manual page (roff)",
		UsageText: "logship man > logship.1\n\nExample:\n   logship man | man -l -",
		Action: func(c *cli.Context) error {
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.App.Writer, page)
			return err
		},
	}
}

// completionCommand prints the shell completion script for bash or zsh.
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Hidden:    true,
		Usage:     "print the shell completion script for bash or zsh",
		ArgsUsage: "bash|zsh",
		UsageText: "logship completion bash|zsh\n\nExample:\n   source <(logship completion bash)",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, "SHELL"); err != nil {
				return err
			}
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := io.WriteString(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := io.WriteString(c.App.Writer, zshCompletion)
				return err
			default:
				return usageErr(fmt.Errorf("no completion for shell %q: bash or zsh", shell))
			}
		},
	}
}
