package cache

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Model digests as the agent has them: sha256 in hex.
var (
	modelA = strings.Repeat("a1", 32)
	modelB = strings.Repeat("b2", 32)
)

func outputs(b byte) []infer.Tensor {
	return []infer.Tensor{{Name: "scores", DType: tensor.UInt8, Shape: []int{1, 4}, Data: []byte{b, b + 1, b + 2, b + 3}}}
}

func sameTensors(a, b []infer.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].DType != b[i].DType || !bytes.Equal(a[i].Data, b[i].Data) || fmt.Sprint(a[i].Shape) != fmt.Sprint(b[i].Shape) {
			return false
		}
	}
	return true
}

func open(t testing.TB, path string, o *Options) *Store {
	t.Helper()
	s, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	return s
}

func mustPut(t testing.TB, s *Store, model string, input []byte, outs []infer.Tensor) {
	t.Helper()
	if err := s.Put(model, input, outs); err != nil {
		t.Fatalf("Put(%q) = %v", input, err)
	}
}

// wantGet checks Get(model, input): a hit with want, or a miss when want is nil.
func wantGet(t testing.TB, s *Store, model string, input []byte, want []infer.Tensor) {
	t.Helper()
	got, ok, err := s.Get(model, input)
	switch {
	case err != nil:
		t.Errorf("Get(%q) error = %v", input, err)
	case want == nil && ok:
		t.Errorf("Get(%q) = %v, hit; want miss", input, got)
	case want != nil && (!ok || !sameTensors(got, want)):
		t.Errorf("Get(%q) = %v, %t; want %v, hit", input, got, ok, want)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		outs []infer.Tensor
	}{
		{name: "one uint8", outs: outputs(7)},
		{name: "float32 and int32", outs: []infer.Tensor{
			{Name: "boxes", DType: tensor.Float32, Shape: []int{1, 2, 4}, Data: bytes.Repeat([]byte{0, 0, 128, 63}, 8)},
			{Name: "classes", DType: tensor.Int32, Shape: []int{1, 2}, Data: []byte{1, 0, 0, 0, 2, 0, 0, 0}},
		}},
		{name: "scalar without name", outs: []infer.Tensor{{DType: tensor.Int8, Shape: []int{}, Data: []byte{0x80}}}},
		{name: "empty data", outs: []infer.Tensor{{Name: "e", DType: tensor.Float32, Shape: []int{0}, Data: []byte{}}}},
		{name: "no tensors", outs: []infer.Tensor{}},
	}
	s := open(t, filepath.Join(t.TempDir(), "cache.db"), nil)
	defer s.Close()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte{byte(i), 1, 2}
			wantGet(t, s, modelA, in, nil)
			mustPut(t, s, modelA, in, tt.outs)
			wantGet(t, s, modelA, in, tt.outs)
			wantGet(t, s, modelB, in, nil)                    // another model
			wantGet(t, s, modelA, append(in, 0), nil)         // another input
			wantGet(t, s, modelA, []byte{byte(i), 1, 3}, nil) // another input
		})
	}
}

func TestReplace(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "cache.db"), nil)
	defer s.Close()
	mustPut(t, s, modelA, []byte("x"), outputs(1))
	mustPut(t, s, modelA, []byte("x"), outputs(2))
	wantGet(t, s, modelA, []byte("x"), outputs(2))
	if got := s.Stats().Entries; got != 1 {
		t.Errorf("Entries = %d; want 1", got)
	}
}

func TestBadModel(t *testing.T) {
	tests := []struct {
		name  string
		model string
	}{
		{name: "empty", model: ""},
		{name: "a name", model: "mobilenet"},
		{name: "63 digits", model: modelA[:63]},
		{name: "not hex", model: strings.Repeat("zz", 32)},
	}
	s := open(t, filepath.Join(t.TempDir(), "cache.db"), nil)
	defer s.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := s.Get(tt.model, nil); err == nil {
				t.Errorf("Get(%q) error = nil; want an error", tt.model)
			}
			if err := s.Put(tt.model, nil, outputs(1)); err == nil {
				t.Errorf("Put(%q) error = nil; want an error", tt.model)
			}
		})
	}
}

func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	s := open(t, path, nil)
	for i := range 3 {
		mustPut(t, s, modelA, []byte{byte(i)}, outputs(byte(10*i)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	s = open(t, path, nil)
	defer s.Close()
	for i := range 3 {
		wantGet(t, s, modelA, []byte{byte(i)}, outputs(byte(10*i)))
	}
	if got, want := s.Stats(), (Stats{Entries: 3, Hits: 3}); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
}

// The least recently used entry goes, where a hit counts as a use even
// though it has not been written yet, and across a restart.
func TestLRU(t *testing.T) {
	tests := []struct {
		name       string
		touchBatch int
		restart    bool // close and reopen between the hits and the Put that evicts
	}{
		{name: "hits remembered", touchBatch: 100},
		{name: "hits written at once", touchBatch: 1},
		{name: "hits written by Close", touchBatch: 100, restart: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			o := &Options{MaxEntries: 3, TouchBatch: tt.touchBatch}
			s := open(t, path, o)
			defer func() { s.Close() }()
			a, b, c, d := []byte("a"), []byte("b"), []byte("c"), []byte("d")
			mustPut(t, s, modelA, a, outputs(1))
			mustPut(t, s, modelA, b, outputs(2))
			mustPut(t, s, modelA, c, outputs(3))
			wantGet(t, s, modelA, a, outputs(1)) // order now b, c, a
			if tt.restart {
				s.Close()
				s = open(t, path, o)
			}
			mustPut(t, s, modelA, d, outputs(4)) // evicts b
			wantGet(t, s, modelA, b, nil)
			wantGet(t, s, modelA, a, outputs(1))
			wantGet(t, s, modelA, c, outputs(3))
			wantGet(t, s, modelA, d, outputs(4))
			st := s.Stats()
			if st.Entries != 3 || st.Evictions != 1 {
				t.Errorf("Stats() = %+v; want 3 entries, 1 eviction", st)
			}
			mustPut(t, s, modelA, b, outputs(2)) // evicts a, hit before c and d
			wantGet(t, s, modelA, a, nil)
		})
	}
}

func TestTTL(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := open(t, filepath.Join(t.TempDir(), "cache.db"), &Options{TTL: time.Minute, Now: clock})
	defer s.Close()
	mustPut(t, s, modelA, []byte("x"), outputs(1))
	mustPut(t, s, modelA, []byte("y"), outputs(2))
	now = now.Add(59 * time.Second)
	wantGet(t, s, modelA, []byte("x"), outputs(1))
	mustPut(t, s, modelA, []byte("y"), outputs(3)) // y's TTL starts again
	now = now.Add(time.Second)
	wantGet(t, s, modelA, []byte("x"), nil)
	wantGet(t, s, modelA, []byte("y"), outputs(3))
	if got, want := s.Stats(), (Stats{Entries: 2, Hits: 2, Misses: 1, Expired: 1}); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
	mustPut(t, s, modelA, []byte("z"), outputs(4)) // the write deletes x
	if got := s.Stats().Entries; got != 2 {
		t.Errorf("Entries after the next Put = %d; want 2", got)
	}
}

func TestLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	s := open(t, path, nil)
	defer s.Close()
	if s2, err := Open(path, &Options{Timeout: 50 * time.Millisecond}); err == nil {
		s2.Close()
		t.Fatal("second Open of a locked file succeeded; want a timeout")
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Errorf("a locked file was moved aside: %v", m)
	}
	wantGet(t, s, modelA, []byte("x"), nil)
}

func TestConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	s := open(t, path, &Options{MaxEntries: 40, TouchBatch: 8, NoSync: true})
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				in := []byte{byte((g*7 + i) % 64)}
				if out, ok, err := s.Get(modelA, in); err != nil {
					t.Errorf("Get: %v", err)
				} else if ok && !sameTensors(out, outputs(in[0])) {
					t.Errorf("Get(%v) = %v; want %v", in, out, outputs(in[0]))
				}
				if i%3 == 0 {
					if err := s.Put(modelA, in, outputs(in[0])); err != nil {
						t.Errorf("Put: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if got := s.Stats().Entries; got > 40 {
		t.Errorf("Entries = %d; want at most 40", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, nil) // verify runs bbolt's check and the bucket counts
	defer s.Close()
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Errorf("the file was found corrupt after concurrent use: %v", m)
	}
}

func TestOpenError(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing", "cache.db"), nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing directory: error = %v; want ErrNotExist", err)
	}
	if _, err := Open(dir, nil); err == nil {
		t.Error("Open of a directory: error = nil; want an error")
	}
	if m, _ := filepath.Glob(dir + ".corrupt-*"); len(m) != 0 {
		t.Errorf("a directory was moved aside: %v", m)
	}
}
