package sign

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretForms are the ways a seed could show up in text: hex either case,
// decimal bytes, standard and URL base64, raw.
func secretForms(seed []byte) []string {
	return []string{
		fmt.Sprintf("%x", seed[:8]), fmt.Sprintf("%X", seed[:8]), strings.Trim(fmt.Sprint(seed[:4]), "[]"),
		base64.StdEncoding.EncodeToString(seed)[:12], base64.URLEncoding.EncodeToString(seed)[:12], string(seed[:8]),
	}
}

// TestKeyLoadingLogsNoSecret loads signing and root keys from files, good
// and damaged, and signs with them while every log/slog record goes to a
// buffer. Neither the log nor any error (which callers log) may contain
// private key material.
func TestKeyLoadingLogsNoSecret(t *testing.T) {
	f := newFixture(t)
	var logged bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	dir := t.TempDir()
	keyPath, rootPath := filepath.Join(dir, "signing.key"), filepath.Join(dir, "root.key")
	if err := WriteSigningKey(keyPath, f.model); err != nil {
		t.Fatal(err)
	}
	if err := WriteRootKey(rootPath, f.root); err != nil {
		t.Fatal(err)
	}
	k, err := LoadSigningKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	m := testManifest()
	if err := Sign(m, k); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRootKey(rootPath); err != nil {
		t.Fatal(err)
	}

	good, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(f.model.priv.Seed())
	damaged := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{name: "group readable", data: good, perm: 0o640},
		{name: "truncated in the key", data: good[:bytes.Index(good, []byte(b64))+20], perm: 0o600},
		{name: "bad base64", data: bytes.Replace(good, []byte(b64), []byte(b64[:20]+"!"+b64[21:]), 1), perm: 0o600},
		{name: "short seed", data: bytes.Replace(good, []byte(b64), []byte(b64[:40]), 1), perm: 0o600},
		{name: "wrong key id", data: bytes.Replace(good, []byte(f.model.ID()), []byte(f.agent.ID()), 1), perm: 0o600},
		{name: "other certificate", data: setMember(t, good, "certificate", f.agent.Certificate()), perm: 0o600},
		{name: "wrong type", data: bytes.Replace(good, []byte(typeSigningPrivate), []byte(typeRootPrivate), 1), perm: 0o600},
	}
	var errs []string
	for _, d := range damaged {
		p := filepath.Join(dir, strings.ReplaceAll(d.name, " ", "-"))
		if err := os.WriteFile(p, d.data, d.perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.perm); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSigningKey(p)
		if err == nil {
			t.Errorf("LoadSigningKey(%s) = nil error; want one", d.name)
			continue
		}
		errs = append(errs, d.name+": "+err.Error())
		if _, err := LoadRootKey(p); err != nil {
			errs = append(errs, d.name+" as root: "+err.Error())
		}
	}
	texts := append(errs, "log: "+logged.String())
	for _, seed := range [][]byte{f.model.priv.Seed(), f.root.priv.Seed()} {
		for _, s := range secretForms(seed) {
			for _, text := range texts {
				if strings.Contains(text, s) {
					t.Errorf("private key material %q in %s", s, text)
				}
			}
		}
	}
}
