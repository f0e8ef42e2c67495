package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edged-dev/edged/ota/sign"
)

// Files of a key directory.
const (
	rootKeyFile = "root.key" // secret: keep the directory offline
	rootPubFile = "root.pub" // what devices are configured with
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "rotate") {
		fmt.Fprintln(stderr, "usage: edgectl keys init DIR | edgectl keys rotate DIR [--validity D] [--purpose model,agent,command]")
		return errors.New("keys: want init or rotate")
	}
	op := args[0]
	fs := newFlags("keys "+op, stderr)
	validity := fs.Duration("validity", 90*24*time.Hour, "how long the new signing key is valid; keep it short and rotate")
	purpose := fs.String("purpose", sign.KindModel, "what the signing key may sign: model, agent, command (operator commands), or several comma-separated")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("keys %s: want one DIR; got %d arguments", op, len(pos))
	}
	dir := pos[0]
	purposes := strings.Split(*purpose, ",")

	var root *sign.RootKey
	if op == "init" {
		if _, err := os.Stat(filepath.Join(dir, rootKeyFile)); err == nil {
			return fmt.Errorf("keys init: %s already holds a root key; use keys rotate for a new signing key", dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("keys init: %w", err)
		}
		if root, err = sign.GenerateRoot(); err != nil {
			return fmt.Errorf("keys init: %w", err)
		}
		if err := sign.WriteRootKey(filepath.Join(dir, rootKeyFile), root); err != nil {
			return fmt.Errorf("keys init: %w", err)
		}
		if err := sign.WritePublicKey(filepath.Join(dir, rootPubFile), root.Public()); err != nil {
			return fmt.Errorf("keys init: %w", err)
		}
		fmt.Fprintf(stdout, "root key %s\n  private: %s (keep offline)\n  public:  %s (configure devices with it)\n",
			root.ID(), filepath.Join(dir, rootKeyFile), filepath.Join(dir, rootPubFile))
	} else {
		if root, err = sign.LoadRootKey(filepath.Join(dir, rootKeyFile)); err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
	}
	key, err := sign.GenerateSigningKey(root, *validity, purposes...)
	if err != nil {
		return fmt.Errorf("keys %s: %w", op, err)
	}
	path := filepath.Join(dir, "signing-"+key.ID()+".key")
	if err := sign.WriteSigningKey(path, key); err != nil {
		return fmt.Errorf("keys %s: %w", op, err)
	}
	c := key.Certificate()
	fmt.Fprintf(stdout, "signing key %s for %s, valid until %s\n  %s\n", key.ID(), strings.Join(c.Purposes, ","),
		c.NotAfter.Format(time.RFC3339), path)
	return nil
}
