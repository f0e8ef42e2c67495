package sign_test

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/edged-dev/edged/ota/sign"
)

// Example shows the whole chain: an operator makes a root and a signing key
// once (edgectl keys init), signs a bundle's manifest (edgectl bundle), and a
// device that knows only the root public key verifies the manifest and then
// each blob it downloads.
func Example() {
	// Operator, offline.
	root, err := sign.GenerateRoot()
	if err != nil {
		log.Fatal(err)
	}
	key, err := sign.GenerateSigningKey(root, 90*24*time.Hour, sign.KindModel)
	if err != nil {
		log.Fatal(err)
	}
	rootPub := root.Public() // goes into every device's configuration

	// Operator, per release.
	model := "abc" // the .tflite file
	now := time.Now()
	m := &sign.Manifest{
		V:       1,
		Kind:    sign.KindModel,
		Name:    "person_detect",
		Version: 4,
		Created: now,
		Expires: now.Add(30 * 24 * time.Hour),
		Blobs: []sign.Blob{{
			Variant: "cpu",
			SHA256:  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
			Size:    int64(len(model)),
		}},
	}
	if err := sign.Sign(m, key); err != nil {
		log.Fatal(err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		log.Fatal(err)
	}

	// Device, which has version 3 of this model.
	got, err := sign.Verify(data, rootPub, sign.VerifyOptions{Kind: sign.KindModel, Name: "person_detect", LastVersion: 3})
	if err != nil {
		log.Fatal(err)
	}
	blob, _ := got.Blob("cpu")
	if err := sign.VerifyBlob(blob, strings.NewReader(model)); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("verified %s version %d, blob %s (%d bytes)\n", got.Name, got.Version, blob.Variant, blob.Size)

	// The same manifest delivered again is a replay.
	_, err = sign.Verify(data, rootPub, sign.VerifyOptions{Kind: sign.KindModel, Name: "person_detect", LastVersion: 4})
	fmt.Println(err)
	// Output:
	// verified person_detect version 4, blob cpu (3 bytes)
	// manifest "person_detect" version 4: replayed: the device has version 4
}
