package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edged-dev/edged/ota/sign"
)

// Files of a key directory. Signing keys are named by role:
// ROLE-KEYID.key, ROLE being a purpose (model, agent, command) or several
// joined by '+'.
const (
	rootKeyFile = "root.key" // secret: keep the directory offline
	rootPubFile = "root.pub" // what devices are configured with
)

// roles are the signing keys keys init makes, one per role.
var roles = []string{sign.KindModel, sign.KindAgent, sign.KindCommand}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand(ctx, "keys", map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"init":   func(ctx context.Context, a []string, o, e io.Writer) error { return keysOp(ctx, "init", a, o, e) },
		"rotate": func(ctx context.Context, a []string, o, e io.Writer) error { return keysOp(ctx, "rotate", a, o, e) },
	}, args, stdout, stderr)
}

func keysOp(ctx context.Context, op string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys "+op, stdout, stderr)
	validity := fs.Duration("validity", 90*24*time.Hour, "how long the new signing keys are valid; keep it short and rotate")
	def := strings.Join(roles, ",")
	if op == "rotate" {
		def = ""
	}
	purpose := fs.String("purpose", def, "the `roles` to make a signing key for, comma-separated: model, agent, command; join with + for one key with several (model+agent)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("keys %s: want one key DIR; got %d arguments", op, len(pos))
	}
	if *purpose == "" {
		return usageErrorf("keys rotate: want --purpose model, agent or command")
	}
	dir := pos[0]
	var keyRoles [][]string
	for _, r := range strings.Split(*purpose, ",") {
		ps := strings.Split(strings.TrimSpace(r), "+")
		for _, p := range ps {
			if !slices.Contains(roles, p) {
				return usageErrorf("keys %s: --purpose: unknown role %q; want model, agent or command", op, p)
			}
		}
		keyRoles = append(keyRoles, ps)
	}

	var root *sign.RootKey
	if op == "init" {
		if _, err := os.Stat(filepath.Join(dir, rootKeyFile)); err == nil {
			return fmt.Errorf("keys init: %s already holds a root key; make new signing keys with 'edgectl keys rotate %s --purpose ROLE'", dir, dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("keys init: %w", err)
		}
		if root, err = sign.GenerateRoot(); err != nil {
			return fmt.Errorf("keys init: %s", Message(err))
		}
		if err := sign.WriteRootKey(filepath.Join(dir, rootKeyFile), root); err != nil {
			return fmt.Errorf("keys init: %s", Message(err))
		}
		if err := sign.WritePublicKey(filepath.Join(dir, rootPubFile), root.Public()); err != nil {
			return fmt.Errorf("keys init: %s", Message(err))
		}
		fmt.Fprintf(stdout, "root key %s\n  private: %s (keep offline)\n  public:  %s (configure devices with it)\n",
			root.ID(), filepath.Join(dir, rootKeyFile), filepath.Join(dir, rootPubFile))
	} else {
		if root, err = sign.LoadRootKey(filepath.Join(dir, rootKeyFile)); err != nil {
			return fmt.Errorf("keys rotate: the root key: %s", Message(err))
		}
	}
	for _, ps := range keyRoles {
		key, err := sign.GenerateSigningKey(root, *validity, ps...)
		if err != nil {
			return fmt.Errorf("keys %s: %s", op, Message(err))
		}
		path := filepath.Join(dir, strings.Join(ps, "+")+"-"+key.ID()+".key")
		if err := sign.WriteSigningKey(path, key); err != nil {
			return fmt.Errorf("keys %s: %s", op, Message(err))
		}
		c := key.Certificate()
		fmt.Fprintf(stdout, "signing key %s for %s, valid until %s\n  %s\n", key.ID(), strings.Join(c.Purposes, ","),
			c.NotAfter.Format(time.RFC3339), path)
	}
	return nil
}

// keyFlags are --key and --keys of commands that sign.
type keyFlags struct {
	file, dir string
}

func (k *keyFlags) register(fs *flag.FlagSet, role string) {
	fs.StringVar(&k.file, "key", "", "signing key `file` certified for "+role+" (default: the newest in --keys)")
	fs.StringVar(&k.dir, "keys", "", "key `directory` to pick the newest valid "+role+" key from (default $EDGECTL_KEYS or the context's)")
}

// load returns the signing key for purpose: the file given, or the newest
// valid key certified for purpose in the key directory (flag, then
// $EDGECTL_KEYS and the context's, resolved in s).
func (k *keyFlags) load(purpose string, s *settings) (*sign.SigningKey, error) {
	dir := k.dir
	if dir == "" && s != nil {
		dir = s.Keys
	}
	hint := "edgectl keys rotate DIR --purpose " + purpose
	if dir != "" {
		hint = "edgectl keys rotate " + dir + " --purpose " + purpose
	}
	if k.file != "" {
		key, err := sign.LoadSigningKey(k.file)
		if err != nil {
			return nil, fmt.Errorf("--key %s: %s", k.file, keyFileError(err))
		}
		c := key.Certificate()
		if !c.Allows(purpose) {
			return nil, fmt.Errorf("--key %s: key %s is certified for %s, not %s; make one with: %s",
				k.file, key.ID(), strings.Join(c.Purposes, ","), purpose, hint)
		}
		if !time.Now().Before(c.NotAfter) {
			return nil, fmt.Errorf("--key %s: key %s expired at %s; make a new one with: %s", k.file, key.ID(), c.NotAfter.Format(time.RFC3339), hint)
		}
		return key, nil
	}
	if dir == "" {
		return nil, usageErrorf("no signing key: give --key FILE or --keys DIR, set $EDGECTL_KEYS, or set the context's keys ('edgectl config set-context NAME --keys DIR')")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.key"))
	var best *sign.SigningKey
	for _, f := range files {
		if filepath.Base(f) == rootKeyFile {
			continue
		}
		key, err := sign.LoadSigningKey(f)
		if err != nil {
			continue
		}
		c := key.Certificate()
		if c.Allows(purpose) && time.Now().Before(c.NotAfter) && (best == nil || c.NotAfter.After(best.Certificate().NotAfter)) {
			best = key
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no valid signing key for %s in %s; make one with: %s", purpose, dir, hint)
	}
	return best, nil
}

// keyFileError explains a key file that does not load.
func keyFileError(err error) string {
	msg := Message(err)
	if strings.Contains(msg, "edged-root-private-key") {
		return "this is the root key, which signs only keys; give a signing key (ROLE-ID.key from edgectl keys init)"
	}
	if errors.Is(err, os.ErrNotExist) {
		return "no such file"
	}
	return msg
}
