package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/testenv"
)

// TestKillResume kills (SIGKILL) a process in the middle of a Fetch, so
// nothing is flushed on exit, and resumes in this one: no chunk the
// persisted bitmap holds is requested again, and every other chunk once.
func TestKillResume(t *testing.T) {
	if os.Getenv("EDGED_TRANSFER_CHILD") != "" {
		killChild()
		return
	}
	testenv.CheckLeaks(t)
	br := startBroker(t)
	blob := randomBlob(40*4096, 8)
	meta, err := Publish(context.Background(), runClient(t, br.URL()), bytes.NewReader(blob), int64(len(blob)), &PublishOptions{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	metaJSON, _ := json.Marshal(meta)
	child := testenv.SelfCommand("-test.run=^TestKillResume$")
	child.Env = append(os.Environ(), "EDGED_TRANSFER_CHILD=1", "EDGED_BROKER="+br.URL(), "EDGED_DIR="+dir, "EDGED_META="+string(metaJSON))
	var stderr bytes.Buffer
	child.Stderr = &stderr
	// Wait must not hang on the pipes if the kill did not reach the
	// process that holds them.
	child.WaitDelay = 10 * time.Second
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "HELD 22") {
			child.Process.Kill()
			child.Wait()
			t.Fatalf("child said %q; want HELD 22\n%s", s, stderr.String())
		}
	case <-time.After(30 * time.Second):
		child.Process.Kill()
		child.Wait()
		t.Fatalf("child did not reach 22 chunks\n%s", stderr.String())
	}
	child.Process.Kill() // SIGKILL: no deferred flush runs
	child.Wait()

	data, err := os.ReadFile((&Receiver{Dir: dir}).BitmapPath(meta.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	held, err := parseBitmap(data, meta.Size, meta.ChunkSize, meta.Count)
	if err != nil {
		t.Fatal(err)
	}
	// SyncEvery 4: the bitmap was last written at 20 chunks; chunks 21
	// and 22 were written to the part file but not recorded.
	if held.have != 20 {
		t.Errorf("bitmap after SIGKILL holds %d chunks; want 20", held.have)
	}
	sub := &countingSub{Subscriber: runClient(t, br.URL())}
	// Bounded, so a resume that stops making progress fails here with its
	// state instead of running into the test binary's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path, err := (&Receiver{Sub: sub, Dir: dir, Window: 4, Log: quietLog()}).Fetch(ctx, meta)
	if err != nil {
		sub.mu.Lock()
		counts := fmt.Sprint(sub.chunks)
		sub.mu.Unlock()
		t.Fatalf("resuming after SIGKILL: %v (chunk subscriptions so far: %s)", err, counts)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
		t.Fatal("blob resumed after SIGKILL differs")
	}
	for i := range meta.Count {
		if n, want := sub.chunks[i], map[bool]int{true: 0, false: 1}[held.has(i)]; n != want {
			t.Errorf("chunk %d (held %v) subscribed %d times after the kill; want %d", i, held.has(i), n, want)
		}
	}
	t.Logf("killed at 22 of %d chunks; bitmap held %d; resumed with %d chunk requests", meta.Count, held.have, len(sub.chunks))
}

// killChild fetches until 22 chunks are held, says so and hangs.
func killChild() {
	var meta fleet.BlobMeta
	json.Unmarshal([]byte(os.Getenv("EDGED_META")), &meta)
	c, err := fleet.New(fleet.Options{Broker: os.Getenv("EDGED_BROKER"), Log: quietLog()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go c.Run(context.Background())
	for !c.Stats().Connected {
		time.Sleep(10 * time.Millisecond)
	}
	r := &Receiver{Sub: c, Dir: os.Getenv("EDGED_DIR"), Window: 4, SyncEvery: 4, Log: quietLog(), Progress: func(p Progress) {
		if p.Chunks >= 22 {
			fmt.Printf("HELD %d\n", p.Chunks)
			select {} // until killed
		}
	}}
	_, err = r.Fetch(context.Background(), meta)
	fmt.Fprintln(os.Stderr, "Fetch returned:", err)
	os.Exit(1)
}
