package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/sign/signtest"
)

// FuzzRead reads a bundle whose manifest.json and model blob are
// arbitrary (a tampered download, a torn copy). Read must not panic, and
// what it accepts is what was signed: the signed manifest's name and
// version, and a blob whose bytes are the signed model's.
func FuzzRead(f *testing.F) {
	data, err := os.ReadFile("../../testdata/models/simple_add_model.tflite")
	if err != nil {
		f.Skip(err)
	}
	keys := signtest.New(f)
	root, key := keys.Root, keys.Model
	good, err := Write(filepath.Join(f.TempDir(), "b"), Spec{Name: "add", Version: 7, Models: []Model{{VariantCPU, data}}}, key)
	if err != nil {
		f.Fatal(err)
	}
	blob := good.Manifest.Blobs[0]
	f.Add(good.Raw, data)
	f.Add(good.Raw, data[:len(data)-1])
	f.Add(bytes.Replace(good.Raw, []byte(`"version": 7`), []byte(`"version": 8`), 1), data)
	f.Add(bytes.Replace(good.Raw, []byte(blob.SHA256), []byte("../../../../etc/passwd"), 1), data)
	f.Add([]byte(`{}`), []byte{})
	f.Fuzz(func(t *testing.T, manifest, model []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, BlobDir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, BlobDir, blob.SHA256), model, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := Read(dir, root.Public(), sign.VerifyOptions{Name: "add"})
		if err != nil {
			return
		}
		m := b.Manifest
		if m.Name != "add" || m.Version != 7 || len(m.Blobs) != 1 || m.Blobs[0] != blob {
			t.Fatalf("Read accepted a manifest that was never signed: %+v", m)
		}
		if !bytes.Equal(model, data) {
			t.Fatalf("Read accepted a blob of %d bytes that is not the signed model", len(model))
		}
	})
}
