package source

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// TestDecodeBMP: the golden input of person_detect's "person" case is
// person.bmp's pixels top row first (testdata/golden/person_detect/cases.json).
func TestDecodeBMP(t *testing.T) {
	b, err := os.ReadFile("../../testdata/models/testdata/person.bmp")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../testdata/golden/person_detect/person/input_0.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBMP(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("DecodeBMP(person.bmp) differs from the golden input")
	}
	for _, n := range []int{0, 10, 54, 1078, len(b) - 1} {
		if _, err := DecodeBMP(b[:n]); err == nil {
			t.Errorf("DecodeBMP of %d-byte prefix succeeded", n)
		}
	}
}

func FuzzDecodeBMP(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/models/testdata/person.bmp"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { DecodeBMP(b) })
}

type fakeInferer struct {
	mu   sync.Mutex
	seen [][]byte
	info infer.ModelInfo
}

func (f *fakeInferer) Infer(ctx context.Context, model, version string, in []infer.Tensor) ([]infer.Tensor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, in[0].Data)
	return []infer.Tensor{{DType: tensor.Int8, Data: []byte{1, 2}}}, nil
}

func (f *fakeInferer) Model(name, version string) (infer.ModelInfo, error) {
	if name != f.info.Name {
		return infer.ModelInfo{}, fmt.Errorf("%w: %s", infer.ErrModelNotFound, name)
	}
	return f.info, nil
}

func TestReplay(t *testing.T) {
	f := &fakeInferer{info: infer.ModelInfo{Name: "p",
		Inputs:  []infer.TensorSpec{{Name: "in", DType: tensor.Int8, Shape: []int{1, 96, 96, 1}}},
		Outputs: []infer.TensorSpec{{Name: "out", DType: tensor.Int8, Shape: []int{1, 2}}}}}
	files := []string{"../../testdata/models/testdata/person.bmp", "../../testdata/models/testdata/no_person.bmp"}
	s, err := NewSynthetic(config.Source{Type: "synthetic", Model: "p", Pattern: "replay", Files: files, Interval: config.Duration(time.Millisecond)},
		func(p string) string { return p }, f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.OnResult = func(in, out []infer.Tensor, err error) {
		f.mu.Lock()
		n := len(f.seen)
		f.mu.Unlock()
		if n == 3 {
			cancel()
		}
	}
	go func() { s.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("source did not stop")
	}
	want0, _ := os.ReadFile("../../testdata/golden/person_detect/person/input_0.bin")
	want1, _ := os.ReadFile("../../testdata/golden/person_detect/no_person/input_0.bin")
	if len(f.seen) < 3 || !bytes.Equal(f.seen[0], want0) || !bytes.Equal(f.seen[1], want1) || !bytes.Equal(f.seen[2], want0) {
		t.Errorf("replay fed %d inputs; want person, no_person, person", len(f.seen))
	}
	// A file of the wrong size is refused up front.
	_, err = NewSynthetic(config.Source{Type: "synthetic", Model: "p", Pattern: "replay", Files: []string{"../../testdata/models/testdata/cat.bmp"}, Interval: config.Duration(time.Second)},
		func(p string) string { return p }, f, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Error("replay of a 3-channel image into a 96x96x1 input was accepted")
	}
}

// TestPutValue: a real value is quantized with the tensor's parameters
// (round(v/scale) + zero point, saturated).
func TestPutValue(t *testing.T) {
	spec := infer.TensorSpec{DType: tensor.Int8, Quantized: true, Scale: 0.5, ZeroPoint: -3}
	b := make([]byte, 3)
	putValue(b, 0, spec, 1.0)  // 2 - 3 = -1
	putValue(b, 1, spec, -100) // saturates at -128
	putValue(b, 2, spec, 0.74) // round(1.48) - 3 = -2
	if got := []int8{int8(b[0]), int8(b[1]), int8(b[2])}; got[0] != -1 || got[1] != -128 || got[2] != -2 {
		t.Errorf("putValue = %v; want [-1 -128 -2]", got)
	}
}
