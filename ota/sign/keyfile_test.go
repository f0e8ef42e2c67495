package sign

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Hand-written key files for the RFC 8032 TEST 1 key (base64 from
// base64(1) of the hex in the RFC).
const (
	rfcRootFile   = `{"v":1,"type":"edged-root-private-key","key_id":"21fe31dfa154a261","private_key":"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="}`
	rfcPublicFile = `{"v":1,"type":"edged-root-public-key","key_id":"21fe31dfa154a261","public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}`
)

func TestParseKeyFiles(t *testing.T) {
	root, err := ParseRootKey([]byte(rfcRootFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := root.Public(); !got.Equal(ed25519.PublicKey(unhex(t, rfcPub1))) {
		t.Errorf("ParseRootKey(TEST 1).Public() = %x; want %s", got, rfcPub1)
	}
	pub, err := ParsePublicKey([]byte(rfcPublicFile))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(ed25519.PublicKey(unhex(t, rfcPub1))) {
		t.Errorf("ParsePublicKey(TEST 1) = %x; want %s", pub, rfcPub1)
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	f := newFixture(t)
	b, err := MarshalRootKey(f.root)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ParseRootKey(b)
	if err != nil || !root.priv.Equal(f.root.priv) {
		t.Errorf("ParseRootKey(MarshalRootKey(k)) = %v, %v; want k", root, err)
	}
	b, err = MarshalPublicKey(f.root.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(b)
	if err != nil || !pub.Equal(f.root.Public()) {
		t.Errorf("ParsePublicKey(MarshalPublicKey(k)) = %x, %v", pub, err)
	}
	b, err = MarshalSigningKey(f.model)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseSigningKey(b)
	if err != nil {
		t.Fatal(err)
	}
	// The parsed key signs manifests that verify.
	data := signedBytes(t, k, nil)
	if _, err := Verify(data, f.root.Public(), VerifyOptions{Now: at(t0), Kind: KindModel}); err != nil {
		t.Errorf("manifest signed by a parsed key: %v", err)
	}
}

func TestParseKeyFileRejects(t *testing.T) {
	f := newFixture(t)
	signing, err := MarshalSigningKey(f.model)
	if err != nil {
		t.Fatal(err)
	}
	// The model key's file with the agent key's certificate.
	mismatched := setMember(t, signing, "certificate", f.agent.cert)
	tests := []struct {
		name    string
		parse   func([]byte) error
		data    string
		wantMsg string
	}{
		{"public as root", parseRoot, rfcPublicFile, `holds "edged-root-public-key"; want "edged-root-private-key"`},
		{"root as public", parsePublic, rfcRootFile, `holds "edged-root-private-key"; want "edged-root-public-key"`},
		{"root as signing", parseSigning, rfcRootFile, `want "edged-signing-private-key"`},
		{"wrong key id", parseRoot, strings.Replace(rfcRootFile, "21fe31dfa154a261", "0000000000000000", 1), `key_id "0000000000000000"; the private key's id is "21fe31dfa154a261"`},
		{"public wrong key id", parsePublic, strings.Replace(rfcPublicFile, "21fe31dfa154a261", "0000000000000000", 1), "the key's id is"},
		{"short seed", parseRoot, strings.Replace(rfcRootFile, "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", "nWGx", 1), "3 bytes"},
		{"format v2", parseRoot, strings.Replace(rfcRootFile, `"v":1`, `"v":2`, 1), "format v2"},
		{"garbage", parseRoot, "-----BEGIN", "key file"},
		{"no certificate", parseSigning, string(setMember(t, signing, "certificate", nil)), "no certificate"},
		{"certificate of another key", parseSigning, string(mismatched), "does not match certificate"},
	}
	for _, tt := range tests {
		err := tt.parse([]byte(tt.data))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("parse(%s) error %v; want ErrMalformed mentioning %q", tt.name, err, tt.wantMsg)
		}
	}
}

func parseRoot(b []byte) error    { _, err := ParseRootKey(b); return err }
func parsePublic(b []byte) error  { _, err := ParsePublicKey(b); return err }
func parseSigning(b []byte) error { _, err := ParseSigningKey(b); return err }

func TestWriteLoadKeyFiles(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	rootPath := filepath.Join(dir, "root.key")
	keyPath := filepath.Join(dir, "signing.key")
	pubPath := filepath.Join(dir, "root.pub")
	if err := WriteRootKey(rootPath, f.root); err != nil {
		t.Fatal(err)
	}
	if err := WriteSigningKey(keyPath, f.model); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKey(pubPath, f.root.Public()); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{rootPath: 0o600, keyPath: 0o600, pubPath: 0o644 &^ umask(t)} {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != want {
				t.Errorf("mode of %s = %#o; want %#o", filepath.Base(path), got, want)
			}
		}
	}
	if k, err := LoadRootKey(rootPath); err != nil || k.ID() != rfcID1 {
		t.Errorf("LoadRootKey = %v, %v", k, err)
	}
	if k, err := LoadSigningKey(keyPath); err != nil || k.ID() != f.model.ID() {
		t.Errorf("LoadSigningKey = %v, %v", k, err)
	}
	if pub, err := LoadPublicKey(pubPath); err != nil || KeyID(pub) != rfcID1 {
		t.Errorf("LoadPublicKey = %x, %v", pub, err)
	}

	// Never overwrite a key.
	other := newFixture(t).agent
	if err := WriteSigningKey(keyPath, other); !errors.Is(err, os.ErrExist) {
		t.Errorf("WriteSigningKey over an existing file: error %v; want os.ErrExist", err)
	}
	if k, err := LoadSigningKey(keyPath); err != nil || k.ID() != f.model.ID() {
		t.Errorf("after refused overwrite LoadSigningKey = %v, %v; want the original", k, err)
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(rootPath, 0o640); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadRootKey(rootPath); !errors.Is(err, errKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("LoadRootKey(mode 0640) error %v; want a permissions error", err)
		}
	}
	if _, err := LoadRootKey(pubPath); err == nil {
		t.Errorf("LoadRootKey(public key file) succeeded")
	}
	if _, err := LoadRootKey(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadRootKey(missing) error %v; want os.ErrNotExist", err)
	}
}

// umask returns the process umask without changing it for long.
func umask(t *testing.T) os.FileMode {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(path, nil, 0o777); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ st.Mode().Perm()
}
