// Package golden reads the golden vectors under testdata/golden (the
// oracle's outputs) and testdata/golden_ref_tflm (TFLite Micro's reference
// kernels), and checks outputs against them and against each case's
// recorded expectations. It is used by tests only.
package golden

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Suite is one model's cases.json.
type Suite struct {
	Dir       string `json:"-"`
	Model     string `json:"model"`
	ModelPath string `json:"model_path"`
	SHA256    string `json:"model_sha256"`
	Inputs    []IO   `json:"inputs"`
	Outputs   []IO   `json:"outputs"`
	Cases     []Case `json:"cases"`
}

// IO describes one input or output.
type IO struct {
	Position     int    `json:"position"`
	TensorIndex  int    `json:"tensor_index"`
	Name         string `json:"name"`
	DType        string `json:"dtype"`
	Shape        []int  `json:"shape"`
	Quantization *struct {
		Scale     []float64 `json:"scale"`
		ZeroPoint []int64   `json:"zero_point"`
	} `json:"quantization"`
}

// Case is one set of inputs with the oracle's outputs.
type Case struct {
	Dir          string        `json:"dir"`
	Inputs       []string      `json:"inputs"`
	Outputs      []string      `json:"outputs"`
	Expectations []Expectation `json:"expectations"`
}

// Expectation is a property of the outputs stated by the model's source.
type Expectation struct {
	Type      string    `json:"type"`
	Index     int       `json:"index"`
	Output    int       `json:"output"`
	A         int       `json:"a"`
	B         int       `json:"b"`
	Element   int       `json:"element"`
	Target    float64   `json:"target"`
	Tolerance float64   `json:"tolerance"`
	Value     float64   `json:"value"`
	K         int       `json:"k"`
	Label     int       `json:"label"`
	MinScore  float64   `json:"min_score"`
	Threshold float64   `json:"threshold"`
	Box       []float64 `json:"box"`
	MinIoU    float64   `json:"min_iou"`
	Holds     bool      `json:"holds"`
	Source    string    `json:"source"`
}

// Root finds the testdata directory from a package directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "testdata", "golden")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return filepath.Join(dir, "testdata"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no testdata/golden above the working directory")
		}
		dir = parent
	}
}

// Suites loads every testdata/golden/*/cases.json.
func Suites() ([]*Suite, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(root, "golden", "*", "cases.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*Suite
	for _, f := range files {
		s, err := LoadSuite(filepath.Dir(f))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// LoadSuite reads dir/cases.json.
func LoadSuite(dir string) (*Suite, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		return nil, err
	}
	s := &Suite{Dir: dir}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return s, nil
}

// Name is the model's base name without extension.
func (s *Suite) Name() string { return filepath.Base(s.Dir) }

// ModelFile is the path of the model.
func (s *Suite) ModelFile() string { return filepath.Join(s.Dir, s.ModelPath) }

// ReadInputs reads a case's input files.
func (s *Suite) ReadInputs(c *Case) ([][]byte, error) {
	return readAll(filepath.Join(s.Dir, c.Dir), c.Inputs)
}

// ReadOutputs reads a case's oracle outputs.
func (s *Suite) ReadOutputs(c *Case) ([][]byte, error) {
	return readAll(filepath.Join(s.Dir, c.Dir), c.Outputs)
}

// ReadRefOutputs reads a case's TFLite Micro outputs from
// testdata/golden_ref_tflm; ok is false when that set has none.
func (s *Suite) ReadRefOutputs(c *Case) (out [][]byte, ok bool, err error) {
	dir := filepath.Join(filepath.Dir(filepath.Dir(s.Dir)), "golden_ref_tflm", s.Name(), c.Dir)
	if _, err := os.Stat(dir); err != nil {
		return nil, false, nil
	}
	out, err = readAll(dir, c.Outputs)
	return out, err == nil, err
}

func readAll(dir string, names []string) ([][]byte, error) {
	out := make([][]byte, len(names))
	for i, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// FloatTolerance is the float32 tolerance of the golden README.
func FloatTolerance(want float64) float64 { return 1e-4 + 1e-4*math.Abs(want) }

// Diff summarises how two raw outputs of the same dtype differ.
type Diff struct {
	N        int
	Differ   int
	MaxAbs   float64
	MeanAbs  float64
	WorstAt  int
	Got      float64
	Want     float64
	OverTol  int // float only: elements outside FloatTolerance
	ArgmaxEq bool
}

// Compare decodes got and want as dtype and compares them element-wise.
func Compare(dtype tensor.DType, got, want []byte) (Diff, error) {
	g, err := Decode(dtype, got)
	if err != nil {
		return Diff{}, err
	}
	w, err := Decode(dtype, want)
	if err != nil {
		return Diff{}, err
	}
	if len(g) != len(w) {
		return Diff{}, fmt.Errorf("got %d elements; want %d", len(g), len(w))
	}
	d := Diff{N: len(g), ArgmaxEq: argmax(g) == argmax(w)}
	sum := 0.0
	for i := range g {
		a := math.Abs(g[i] - w[i])
		if g[i] != w[i] {
			d.Differ++
		}
		if math.IsNaN(g[i]) != math.IsNaN(w[i]) {
			a = math.Inf(1)
		}
		sum += a
		if a > d.MaxAbs || (d.Differ == 1 && g[i] != w[i] && d.MaxAbs == 0) {
			d.MaxAbs, d.WorstAt, d.Got, d.Want = a, i, g[i], w[i]
		}
		if dtype == tensor.Float32 && a > FloatTolerance(w[i]) {
			d.OverTol++
		}
	}
	if len(g) > 0 {
		d.MeanAbs = sum / float64(len(g))
	}
	return d, nil
}

func argmax(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// Decode turns raw little-endian bytes into float64 values.
func Decode(dtype tensor.DType, b []byte) ([]float64, error) {
	size := dtype.Size()
	if size == 0 || len(b)%size != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %s", len(b), dtype)
	}
	t := tensor.Tensor{Type: dtype, Data: b}
	out := make([]float64, len(b)/size)
	for i := range out {
		switch dtype {
		case tensor.Float32:
			out[i] = float64(math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24))
		case tensor.Int8:
			out[i] = float64(int8(b[i]))
		case tensor.UInt8, tensor.Bool:
			out[i] = float64(b[i])
		case tensor.Int16:
			out[i] = float64(int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8))
		case tensor.Int32:
			out[i] = float64(int32(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24))
		case tensor.Int64:
			var v uint64
			for k := 7; k >= 0; k-- {
				v = v<<8 | uint64(b[8*i+k])
			}
			out[i] = float64(int64(v))
		default:
			_ = t
			return nil, fmt.Errorf("cannot decode %s", dtype)
		}
	}
	return out, nil
}

// Dequantized decodes output k of a case and dequantizes it with the
// suite's recorded parameters (per-tensor).
func (s *Suite) Dequantized(k int, raw []byte) ([]float64, error) {
	io := s.Outputs[k]
	dt, err := tensor.ParseDType(io.DType)
	if err != nil {
		return nil, err
	}
	v, err := Decode(dt, raw)
	if err != nil {
		return nil, err
	}
	if q := io.Quantization; q != nil && len(q.Scale) > 0 {
		for i := range v {
			v[i] = (v[i] - float64(q.ZeroPoint[0])) * q.Scale[0]
		}
	}
	return v, nil
}

// Check evaluates an expectation on a case's outputs (raw bytes per output).
func (s *Suite) Check(e *Expectation, outs [][]byte) error {
	deq := func(k int) ([]float64, error) {
		if k >= len(outs) {
			return nil, fmt.Errorf("output %d of %d", k, len(outs))
		}
		return s.Dequantized(k, outs[k])
	}
	raw := func(k int) ([]float64, error) {
		if k >= len(outs) {
			return nil, fmt.Errorf("output %d of %d", k, len(outs))
		}
		dt, err := tensor.ParseDType(s.Outputs[k].DType)
		if err != nil {
			return nil, err
		}
		return Decode(dt, outs[k])
	}
	switch e.Type {
	case "argmax":
		v, err := raw(e.Output)
		if err != nil {
			return err
		}
		for i := range v {
			if i != e.Index && v[i] >= v[e.Index] {
				return fmt.Errorf("argmax: v[%d]=%g >= v[%d]=%g", i, v[i], e.Index, v[e.Index])
			}
		}
	case "greater":
		v, err := raw(e.Output)
		if err != nil {
			return err
		}
		if !(v[e.A] > v[e.B]) {
			return fmt.Errorf("greater: v[%d]=%g not > v[%d]=%g", e.A, v[e.A], e.B, v[e.B])
		}
	case "abs_error_le":
		v, err := deq(e.Output)
		if err != nil {
			return err
		}
		if d := math.Abs(v[e.Element] - e.Target); d > e.Tolerance {
			return fmt.Errorf("abs_error_le: |%g - %g| = %g > %g", v[e.Element], e.Target, d, e.Tolerance)
		}
	case "round_equals":
		v, err := deq(e.Output)
		if err != nil {
			return err
		}
		if int(v[0]+0.5) != int(e.Value) {
			return fmt.Errorf("round_equals: int(%g + 0.5) != %g", v[0], e.Value)
		}
	case "topk_contains":
		v, err := deq(e.Output)
		if err != nil {
			return err
		}
		idx := make([]int, len(v))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] > v[idx[b]] })
		for _, i := range idx[:min(e.K, len(idx))] {
			if i == e.Label && v[i] > e.MinScore {
				return nil
			}
		}
		return fmt.Errorf("topk_contains: label %d (score %g) not in top %d above %g", e.Label, v[e.Label], e.K, e.MinScore)
	case "first_above":
		v, err := deq(e.Output)
		if err != nil {
			return err
		}
		for i := range v {
			if v[i] > e.Threshold {
				if i != e.Index {
					return fmt.Errorf("first_above: first value > %g is at %d; want %d", e.Threshold, i, e.Index)
				}
				return nil
			}
		}
		return fmt.Errorf("first_above: no value > %g", e.Threshold)
	case "detection_top1":
		boxes, err := deq(0)
		if err != nil {
			return err
		}
		classes, err := deq(1)
		if err != nil {
			return err
		}
		scores, err := deq(2)
		if err != nil {
			return err
		}
		count, err := deq(3)
		if err != nil {
			return err
		}
		best := -1
		for i := 0; i < int(count[0]) && i < len(scores); i++ {
			if scores[i] > e.MinScore && (best < 0 || scores[i] > scores[best]) {
				best = i
			}
		}
		if best < 0 {
			return fmt.Errorf("detection_top1: no detection above %g", e.MinScore)
		}
		if int(classes[best]) != e.Label {
			return fmt.Errorf("detection_top1: class %g; want %d", classes[best], e.Label)
		}
		if iou := IoU(boxes[4*best:4*best+4], e.Box); iou <= e.MinIoU {
			return fmt.Errorf("detection_top1: IoU %g <= %g", iou, e.MinIoU)
		}
	default:
		return fmt.Errorf("expectation type %q not implemented", e.Type)
	}
	return nil
}

// IoU is the intersection over union of two [ymin, xmin, ymax, xmax] boxes.
func IoU(a, b []float64) float64 {
	iy := math.Max(0, math.Min(a[2], b[2])-math.Max(a[0], b[0]))
	ix := math.Max(0, math.Min(a[3], b[3])-math.Max(a[1], b[1]))
	inter := iy * ix
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
