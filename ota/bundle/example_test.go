package bundle_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
)

func Example() {
	root, _ := sign.GenerateRoot()
	key, _ := sign.GenerateSigningKey(root, 24*time.Hour, sign.KindModel)
	model, err := os.ReadFile("../../testdata/models/iris.tflite")
	if err != nil {
		log.Fatal(err)
	}
	tmp, _ := os.MkdirTemp("", "bundle")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "iris-v4")

	// edgectl bundle: check the model, write blobs and a signed manifest.
	if _, err := bundle.Write(dir, bundle.Spec{Name: "iris", Version: 4, Models: []bundle.Model{{Variant: bundle.VariantCPU, Data: model}}}, key); err != nil {
		log.Fatal(err)
	}

	// A device (or edgectl verify) with only the root public key.
	b, err := bundle.Read(dir, root.Public(), sign.VerifyOptions{Name: "iris", LastVersion: 3})
	if err != nil {
		log.Fatal(err)
	}
	cpu, _ := b.Manifest.Blob(bundle.VariantCPU)
	fmt.Println(b.Manifest.Name, b.Manifest.Version, cpu.Size == int64(len(model)))
	// Output: iris 4 true
}
