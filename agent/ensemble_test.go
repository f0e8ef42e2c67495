package agent

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// TestEnsemble runs two copies of iris as an ensemble. The oracle's output
// for iris row_1 (testdata/golden/iris/row_1) is the expected member
// output, so the mean must equal it, the concatenation must hold it twice,
// and the vote must pick its class (0, setosa, per iris.csv).
func TestEnsemble(t *testing.T) {
	model, _ := filepath.Abs("../testdata/models/iris.tflite")
	in, err := os.ReadFile("../testdata/golden/iris/row_1/input_0.bin")
	if err != nil {
		t.Fatal(err)
	}
	wantRaw, err := os.ReadFile("../testdata/golden/iris/row_1/output_0.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 3)
	for i := range want {
		want[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(wantRaw[4*i:])))
	}
	a, _, stop := newTestAgent(t, t.TempDir(), fmt.Sprintf(`  - name: a
    path: %[1]s
  - name: b
    path: %[1]s
  - name: mean
    ensemble: {members: [a, b], combine: mean}
  - name: concat
    ensemble: {members: [a, b], combine: concat}
  - name: vote
    ensemble: {members: [a, b], combine: vote}
`, model))
	defer stop()
	req := []infer.Tensor{{DType: tensor.Float32, Shape: []int{1, 4}, Data: in}}
	floats := func(t infer.Tensor) []float64 {
		out := make([]float64, len(t.Data)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:])))
		}
		return out
	}
	close := func(got, want []float64) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-4+1e-4*math.Abs(want[i]) {
				return false
			}
		}
		return true
	}
	out, err := a.Infer(context.Background(), "mean", "", req)
	if err != nil {
		t.Fatal(err)
	}
	if got := floats(out[0]); !close(got, want) || fmt.Sprint(out[0].Shape) != "[1 3]" {
		t.Errorf("mean = %v %v; want %v [1 3]", got, out[0].Shape, want)
	}
	out, err = a.Infer(context.Background(), "concat", "", req)
	if err != nil {
		t.Fatal(err)
	}
	if got := floats(out[0]); !close(got, append(append([]float64{}, want...), want...)) || fmt.Sprint(out[0].Shape) != "[1 6]" {
		t.Errorf("concat = %v %v; want %v twice, [1 6]", got, out[0].Shape, want)
	}
	out, err = a.Infer(context.Background(), "vote", "", req)
	if err != nil {
		t.Fatal(err)
	}
	if got := int32(binary.LittleEndian.Uint32(out[0].Data)); got != 0 {
		t.Errorf("vote = %d; want class 0", got)
	}
	// Each member ran once per ensemble request (3 requests).
	mi, _ := a.Model("mean", "")
	if mi.Outputs[0].DType != tensor.Float32 {
		t.Errorf("mean output type %s", mi.Outputs[0].DType)
	}
}
