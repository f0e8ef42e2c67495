package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Bounds of TestBodyBurst, on this 2-core test machine (see SECURITY.md):
// the daemon's resident memory during a burst of 32 concurrent bodies of
// the maximum size (http.max_request_bytes, 16 MiB by default), and after
// it once idle.
const (
	burstBodies   = 32
	burstBodySize = 16 << 20
	burstPeakRSS  = 256 << 20
	burstIdleRSS  = 96 << 20
)

// jsonBody is an inference request of exactly size bytes whose data array
// holds far more values than person_detect's 96x96 input.
func jsonBody(size int) []byte {
	head := `{"inputs":[{"name":"input","shape":[1,96,96,1],"datatype":"INT8","data":[0`
	tail := `]}]}`
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(head)
	for b.Len()+2+len(tail) <= size {
		b.WriteString(",0")
	}
	for b.Len()+len(tail) < size {
		b.WriteString(" ")
	}
	b.WriteString(tail)
	return b.Bytes()
}

// TestBodyBurst sends 32 maximum-size bodies at once to the real edged
// and reads its resident memory from /proc throughout (VmHWM, the peak
// the kernel recorded) and after the burst.
func TestBodyBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("burst test skipped in -short mode")
	}
	d := startDaemon(t)
	pid := d.cmd.Process.Pid
	before, err := ProcMem(pid)
	if err != nil {
		t.Fatal(err)
	}
	body := jsonBody(burstBodySize)
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	client := &http.Client{Timeout: 2 * time.Minute}
	for range burstBodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := 0
			resp, err := client.Post(d.base+"/v2/models/pd/infer", "application/json", bytes.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	peak, err := statusField(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("responses %v; RSS before %.1f MiB, peak %.1f MiB", codes, mib(before.RSS), mib(peak))
	if peak > burstPeakRSS {
		t.Errorf("peak RSS %.1f MiB during %d concurrent %d MiB bodies; want at most %d MiB", mib(peak), burstBodies, burstBodySize>>20, burstPeakRSS>>20)
	}
	// Released once idle: the daemon returns what the burst took.
	var after Mem
	for i := 0; i < 60; i++ {
		if after, err = ProcMem(pid); err != nil {
			t.Fatal(err)
		}
		if after.RSS <= burstIdleRSS {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("RSS after the burst %.1f MiB (anon %.1f, file %.1f)", mib(after.RSS), mib(after.Anon), mib(after.File))
	if after.RSS > burstIdleRSS {
		t.Errorf("RSS %.1f MiB 30 s after the burst; want at most %d MiB", mib(after.RSS), burstIdleRSS>>20)
	}
	if r := Run(t.Context(), 20, time.Second, func(context.Context) (int, error) {
		resp, err := d.client.Get(d.base + "/v2/health/ready")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}, nil); r.Codes[200] != r.Sent {
		t.Errorf("after the burst: %v; want every request 200", r)
	}
}

func statusField(pid int, key string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("status of %d: %w", pid, err)
	}
	return statusKB(b, key)
}
