package selfupdate_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edged-dev/edged/ota/selfupdate"
	"github.com/edged-dev/edged/ota/sign"
)

// BenchmarkApply times Apply of a binary the size of a stripped arm64
// edged (14 MB): sha256 check, minio/selfupdate's copy and checksum,
// fsync, swap and directory fsync.
func BenchmarkApply(b *testing.B) {
	const size = 14 << 20
	dir := b.TempDir()
	exe := filepath.Join(dir, "bin", "edged")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, size)
	rand.Read(data)
	blob := filepath.Join(dir, "download")
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(data)
	m := &sign.Manifest{V: 1, Kind: sign.KindAgent, Name: selfupdate.Name, Version: 2_000_000, Created: time.Now(), Expires: time.Now().Add(time.Hour),
		Blobs: []sign.Blob{{Variant: selfupdate.CurrentVariant(), SHA256: hex.EncodeToString(sum[:]), Size: size}}}
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(exe, []byte("old"), 0o755); err != nil {
			b.Fatal(err)
		}
		os.Remove(filepath.Join(dir, selfupdate.StateFile))
		u := &selfupdate.Updater{Dir: dir, Executable: exe, Version: "1.0.0", Log: slog.New(slog.DiscardHandler)}
		b.StartTimer()
		if err := u.Apply(m, blob, ""); err != nil {
			b.Fatal(err)
		}
	}
}
