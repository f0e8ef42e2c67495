package transfer_test

import (
	"context"
	"log"
	"os"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/transfer"
)

// The operator's side: publish a model as retained chunks (edgectl push).
func ExamplePublish() {
	ctx := context.Background()
	c, err := fleet.New(fleet.Options{Broker: "tcp://127.0.0.1:1883"})
	if err != nil {
		log.Fatal(err)
	}
	go c.Run(ctx) // publish once connected (see fleet.Options.OnConnect)

	f, err := os.Open("model.tflite")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	meta, err := transfer.Publish(ctx, c, f, st.Size(), nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("published %s in %d chunks", meta.SHA256, meta.Count)
}

// The device's side: fetch a blob named by a verified manifest. Run again
// after a crash, the same calls resume.
func ExampleReceiver_Fetch() {
	ctx := context.Background()
	var c *fleet.Client                                                                             // the agent's connected client
	sum, size := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", int64(3610798) // from the manifest's blob

	meta, err := transfer.FetchMeta(ctx, c, sum, size)
	if err != nil {
		log.Fatal(err)
	}
	r := &transfer.Receiver{Sub: c, Dir: "/var/lib/edged/downloads", Progress: func(p transfer.Progress) {
		log.Printf("%d of %d bytes", p.Bytes, p.Size)
	}}
	path, err := r.Fetch(ctx, meta)
	if err != nil {
		log.Fatal(err)
	}
	log.Println("verified blob at", path)
}
