package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/crypt"
)

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage the age keys that encrypt stored objects",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "make a new identity file and print its recipient (public key)",
			ArgsUsage: "IDENTITY_FILE",
			Description: `Writes a new age X25519 identity to IDENTITY_FILE (created with mode 0600; an
existing file is never overwritten) and prints its recipient, age1..., on stdout.
Give the recipient to the machines that ship (--encrypt-to, or a line of
--recipients-file); keep the identity file away from them and give it only where
data is read (--identity-file for wal-fetch, restore, verify --deep).

Exit codes: 0 written, 1 the file could not be written, 2 bad arguments or
IDENTITY_FILE exists.

Example:
   logship key generate /etc/logship/identity.txt
   logship --encrypt-to age1... wal-push %p`,
			Action: func(c *cli.Context) error {
				if err := needArgs(c, "IDENTITY_FILE"); err != nil {
					return err
				}
				return generateKey(c, c.Args().First())
			},
		}},
	}
}

func generateKey(c *cli.Context, path string) error {
	content, recipient, err := crypt.Generate()
	if err != nil {
		return err
	}
	// O_EXCL: an identity that already opens objects must never be lost.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return usageErr(fmt.Errorf("%s exists: logship key generate never overwrites an identity; choose another file", path))
	}
	if err != nil {
		return err
	}
	if _, err = f.WriteString(content); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintln(c.App.Writer, recipient)
	return nil
}
