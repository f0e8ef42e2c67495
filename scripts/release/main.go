// Command release signs and verifies the checksum file of an edged release
// with the project's own trust chain (ota/sign). scripts/release.sh calls it.
//
// The signature is an ota/sign manifest of kind "agent" named
// "edged-release" whose one blob, variant "SHA256SUMS", gives that file's
// size and sha256; SHA256SUMS in turn lists every file of the release. So a
// release is checked with the same root public key that devices hold, and
// by the same code. The name keeps the manifest from ever passing for an
// agent update: ota/selfupdate accepts only manifests named "edged".
//
// Usage (from the module root):
//
//	go run ./scripts/release keygen DIR
//	go run ./scripts/release sign -key KEY -version X.Y.Z DIST
//	go run ./scripts/release verify -root ROOT.pub DIST
//
// keygen writes a throwaway root key (root.key, root.pub) and a signing key
// certified for "agent" (signing.key) into DIR, for a release built without
// RELEASE_KEY. sign writes DIST/SHA256SUMS.sig over DIST/SHA256SUMS. verify
// checks the signature, then every file SHA256SUMS lists.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edged-dev/edged/ota/selfupdate"
	"github.com/edged-dev/edged/ota/sign"
)

const (
	manifestName = "edged-release"
	sumsFile     = "SHA256SUMS"
	sigFile      = "SHA256SUMS.sig"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: keygen, sign or verify")
	}
	switch args[0] {
	case "keygen":
		return keygen(args[1:], stdout)
	case "sign":
		return signSums(args[1:], stdout)
	case "verify":
		return verify(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q; want keygen, sign or verify", args[0])
}

func keygen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	validity := fs.Duration("validity", 30*24*time.Hour, "how long the signing key is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("keygen: want one DIR; got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	root, err := sign.GenerateRoot()
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	key, err := sign.GenerateSigningKey(root, *validity, sign.KindAgent)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := sign.WriteRootKey(filepath.Join(dir, "root.key"), root); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := sign.WritePublicKey(filepath.Join(dir, "root.pub"), root.Public()); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := sign.WriteSigningKey(filepath.Join(dir, "signing.key"), key); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintf(stdout, "throwaway root key %s and signing key %s in %s\n", root.ID(), key.ID(), dir)
	return nil
}

func signSums(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	keyPath := fs.String("key", "", "signing key file certified for agent (required)")
	versionFlag := fs.String("version", "", "release version MAJOR.MINOR.PATCH (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *keyPath == "" || *versionFlag == "" {
		return errors.New("sign: want -key KEY -version X.Y.Z DIST")
	}
	dist := fs.Arg(0)
	version, err := selfupdate.ParseVersion(*versionFlag)
	if err != nil {
		return fmt.Errorf("sign: -version: %w", err)
	}
	key, err := sign.LoadSigningKey(*keyPath)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	blob, err := fileBlob(filepath.Join(dist, sumsFile))
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	m := &sign.Manifest{
		V: 1, Kind: sign.KindAgent, Name: manifestName, Version: version,
		// verify checks the signature as of Created, so Expires only has to
		// satisfy the format; the key's own expiry bounds it.
		Created: now, Expires: key.Certificate().NotAfter,
		Blobs: []sign.Blob{blob},
	}
	if err := sign.Sign(m, key); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	out := filepath.Join(dist, sigFile)
	if err := os.WriteFile(out, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	fmt.Fprintf(stdout, "signed %s (sha256 %s) with key %s: %s\n", sumsFile, blob.SHA256, key.ID(), out)
	return nil
}

func fileBlob(path string) (sign.Blob, error) {
	f, err := os.Open(path)
	if err != nil {
		return sign.Blob{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sign.Blob{}, fmt.Errorf("read %s: %w", path, err)
	}
	return sign.Blob{Variant: sumsFile, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func verify(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	rootPath := fs.String("root", "", "root public key file (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *rootPath == "" {
		return errors.New("verify: want -root ROOT.pub DIST")
	}
	dist := fs.Arg(0)
	root, err := sign.LoadPublicKey(*rootPath)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(dist, sigFile))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	// A release does not go stale the way an update offer does: the
	// question is whether a key the root certified signed these files, so
	// the certificate is judged at the manifest's creation, not today.
	// The time is read from the unverified manifest; a forged one fails the
	// signature check anyway.
	var hdr struct {
		Created time.Time `json:"created"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return fmt.Errorf("verify: %s: %w", sigFile, err)
	}
	m, err := sign.Verify(raw, root, sign.VerifyOptions{
		Kind: sign.KindAgent, Name: manifestName,
		Now: func() time.Time { return hdr.Created },
	})
	if err != nil {
		return fmt.Errorf("verify: %s: %w", sigFile, err)
	}
	blob, ok := m.Blob(sumsFile)
	if !ok {
		return fmt.Errorf("verify: %s names no %s blob", sigFile, sumsFile)
	}
	sums, err := os.ReadFile(filepath.Join(dist, sumsFile))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := sign.VerifyBlob(blob, bytes.NewReader(sums)); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	n, err := checkSums(dist, sums)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fmt.Fprintf(stdout, "%s: signed by %s for %s %s at %s; %d files match\n", dist, m.Signatures[0].KeyID,
		manifestName, selfupdate.FormatVersion(m.Version), m.Created.Format(time.RFC3339), n)
	return nil
}

// checkSums checks each "HEX  NAME" line of a sha256sum file against the
// file NAME under dist.
func checkSums(dist string, sums []byte) (int, error) {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for line := 1; sc.Scan(); line++ {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(want) != 64 || name == "" || !filepath.IsLocal(name) {
			return n, fmt.Errorf("%s line %d: %q: want \"SHA256  NAME\" with a relative NAME", sumsFile, line, sc.Text())
		}
		f, err := os.Open(filepath.Join(dist, name))
		if err != nil {
			return n, err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return n, fmt.Errorf("read %s: %w", name, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return n, fmt.Errorf("%s: sha256 %s; %s says %s", name, got, sumsFile, want)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%s lists no files", sumsFile)
	}
	return n, nil
}
