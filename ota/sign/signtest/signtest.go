// Package signtest gives tests the keys a fleet signs with: a root, the
// model and operator command keys it certifies, more keys on demand, and
// the root's public key written where a device's configuration names it.
package signtest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/edged-dev/edged/ota/sign"
)

// Validity is how long the keys New and Key certify stay valid.
const Validity = 24 * time.Hour

// Keys are a root and the signing keys it certified.
type Keys struct {
	Root    *sign.RootKey
	Model   *sign.SigningKey // certified for models
	Command *sign.SigningKey // certified for operator commands
}

// New generates a root and its model and command keys; it fails t if it
// cannot.
func New(t testing.TB) *Keys {
	t.Helper()
	root, err := sign.GenerateRoot()
	if err != nil {
		t.Fatalf("generating a root key: %v", err)
	}
	k := &Keys{Root: root}
	k.Model = k.Key(t, sign.KindModel)
	k.Command = k.Key(t, sign.KindCommand)
	return k
}

// Key certifies a new signing key for purposes with the root.
func (k *Keys) Key(t testing.TB, purposes ...string) *sign.SigningKey {
	t.Helper()
	s, err := sign.GenerateSigningKey(k.Root, Validity, purposes...)
	if err != nil {
		t.Fatalf("generating a signing key for %v: %v", purposes, err)
	}
	return s
}

// WriteRoot writes the root's public key to dir/root.pub, the name the
// tests' device configurations give ota.root_key, and returns its path.
func (k *Keys) WriteRoot(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "root.pub")
	if err := sign.WritePublicKey(p, k.Root.Public()); err != nil {
		t.Fatalf("writing the root's public key: %v", err)
	}
	return p
}
