package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// lstmCase is a random single UNIDIRECTIONAL_SEQUENCE_LSTM model.
type lstmCase struct {
	batch, time, nIn, nCell int
	timeMajor               bool
	cellClip                float32
	cellPow                 int // int8: log2 of the cell state scale
	hiddenInter             bool
	cifg, peephole          bool
	// hybrid: float activations with int8 weights (float must be set).
	hybrid, asym bool
}

func (c lstmCase) String() string {
	return fmt.Sprintf("b%d_t%d_in%d_cell%d_tm%v_clip%g_cif%v_peep%v_asym%v", c.batch, c.time, c.nIn, c.nCell, c.timeMajor, c.cellClip, c.cifg, c.peephole, c.asym)
}

func randLSTMCase(r *rand.Rand, float bool) lstmCase {
	c := lstmCase{batch: diffInt(r, 1, 3), time: diffInt(r, 1, 5), nIn: diffInt(r, 1, 9), nCell: diffInt(r, 1, 9),
		timeMajor: r.IntN(2) == 0, cellPow: diffPick(r, -11, -12, -13, -15), hiddenInter: r.IntN(3) == 0}
	if r.IntN(2) == 0 {
		c.cellClip = float32(diffLogUniform(r, 0.5, 4))
	}
	if float {
		c.cifg, c.peephole = r.IntN(3) == 0, r.IntN(3) == 0
	}
	return c
}

// buildLSTM writes the model of c and returns it with RUNS inputs.
func buildLSTM(t testing.TB, r *rand.Rand, c lstmCase, float bool, runs int) ([]byte, []byte) {
	t.Helper()
	b := tflitetest.NewBuilder()
	xShape := []int{c.batch, c.time, c.nIn}
	yShape := []int{c.batch, c.time, c.nCell}
	if c.timeMajor {
		xShape = []int{c.time, c.batch, c.nIn}
		yShape = []int{c.time, c.batch, c.nCell}
	}
	ins := make([]int, kernels.LSTMNumInputs)
	for i := range ins {
		ins[i] = tflitetest.NoInput
	}
	var xq, hq, cq *tensor.Quant
	var inputs []byte
	if float {
		ins[0] = b.Tensor("x", tensor.Float32, xShape, nil, nil)
		inputs = diffFloatBytes(r, runs*tensor.NumElements(xShape), -1.5, 1.5)
	} else {
		xq = &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.004, 0.03))}, ZeroPoint: []int32{int32(diffInt(r, -30, 30))}}
		hq = &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.003, 0.01))}, ZeroPoint: []int32{int32(diffInt(r, -20, 20))}}
		cq = &tensor.Quant{Scale: []float32{float32(math.Ldexp(1, c.cellPow))}, ZeroPoint: []int32{0}}
		ins[0] = b.Tensor("x", tensor.Int8, xShape, xq, nil)
		inputs = diffTensorBytes(r, tensor.Int8, runs*tensor.NumElements(xShape))
	}
	for g := 0; g < 4; g++ {
		if g == 0 && c.cifg {
			continue
		}
		for k, cols := range []int{c.nIn, c.nCell} {
			name := fmt.Sprintf("w%d_%d", g, k)
			shape := []int{c.nCell, cols}
			if float && !c.hybrid {
				ins[1+4*k+g] = b.Const(name, tensor.Float32, shape, nil, diffFloatBytes(r, c.nCell*cols, -0.6, 0.6))
			} else if c.hybrid {
				q := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.6/127, 1.0/127))}, ZeroPoint: []int32{0}}
				ins[1+4*k+g] = b.Const(name, tensor.Int8, shape, q, diffInt8Weights(r, c.nCell*cols))
			} else {
				q := &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.003, 0.02))}, ZeroPoint: []int32{0}}
				ins[1+4*k+g] = b.Const(name, tensor.Int8, shape, q, diffInt8Weights(r, c.nCell*cols))
			}
		}
		if float {
			ins[kernels.LSTMInputGateBias+g] = b.Const(fmt.Sprintf("b%d", g), tensor.Float32, []int{c.nCell}, nil, diffFloatBytes(r, c.nCell, -1, 1))
			if c.peephole && g != 2 {
				slot := kernels.LSTMCellToInputWeights + map[int]int{0: 0, 1: 1, 3: 2}[g]
				if c.hybrid {
					q := &tensor.Quant{Scale: []float32{0.5 / 127}, ZeroPoint: []int32{0}}
					ins[slot] = b.Const(fmt.Sprintf("p%d", g), tensor.Int8, []int{c.nCell}, q, diffInt8Weights(r, c.nCell))
				} else {
					ins[slot] = b.Const(fmt.Sprintf("p%d", g), tensor.Float32, []int{c.nCell}, nil, diffFloatBytes(r, c.nCell, -0.5, 0.5))
				}
			}
		} else {
			bs := float32(1.0 / 4096 / 4)
			ins[kernels.LSTMInputGateBias+g] = b.Const(fmt.Sprintf("b%d", g), tensor.Int32, []int{c.nCell},
				&tensor.Quant{Scale: []float32{bs}, ZeroPoint: []int32{0}}, diffInt32Bytes(r, c.nCell, -20000, 20000))
		}
	}
	if float {
		ins[kernels.LSTMOutputState] = b.Variable("h", tensor.Float32, []int{c.batch, c.nCell}, nil)
		ins[kernels.LSTMCellState] = b.Variable("c", tensor.Float32, []int{c.batch, c.nCell}, nil)
	} else {
		ins[kernels.LSTMOutputState] = b.Variable("h", tensor.Int8, []int{c.batch, c.nCell}, hq)
		ins[kernels.LSTMCellState] = b.Variable("c", tensor.Int16, []int{c.batch, c.nCell}, cq)
	}
	yq := hq
	y := b.Tensor("y", map[bool]tensor.DType{true: tensor.Float32, false: tensor.Int8}[float], yShape, yq, nil)
	version := 1
	switch {
	case !float:
		version = 3
	case c.hybrid && c.asym:
		version = 3
	case c.hybrid:
		version = 2
	}
	op := b.Op(schema.BuiltinOperatorUNIDIRECTIONAL_SEQUENCE_LSTM, version, ins, []int{y},
		tflitetest.UnidirectionalSequenceLSTMOptions(schema.ActivationFunctionTypeTANH, c.cellClip, 0, c.timeMajor, c.asym))
	if !float {
		// The converter's five intermediates: the four gate scales (read
		// with layer normalisation only) and the effective hidden scale.
		var inter []int
		for i := 0; i < 4; i++ {
			inter = append(inter, b.Tensor(fmt.Sprintf("inter%d", i), tensor.Int16, []int{0}, &tensor.Quant{Scale: []float32{1.0 / 4096}, ZeroPoint: []int32{0}}, nil))
		}
		iq := hq
		if c.hiddenInter {
			iq = &tensor.Quant{Scale: []float32{hq.Scale[0] * float32(diffLogUniform(r, 0.7, 1.4))}, ZeroPoint: []int32{hq.ZeroPoint[0] + int32(diffInt(r, -3, 3))}}
		}
		inter = append(inter, b.Tensor("hidden", tensor.Int8, []int{0}, iq, nil))
		b.Intermediates(op, inter...)
	}
	b.Inputs(ins[0])
	b.Outputs(y)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return model, inputs
}

// TestLSTMAgainstTFLite compares random single-op LSTM models with
// TensorFlow Lite's C library over several invocations that carry the
// state over, then with a reset before each: int8 byte for byte in LiteRT
// arithmetic, float and hybrid (int8 weights, float activations) within
// 1e-5.
func TestLSTMAgainstTFLite(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 8
	}
	for _, kind := range []string{"int8", "float32", "hybrid"} {
		float := kind != "int8"
		for i := 0; i < n; i++ {
			r := rand.New(rand.NewPCG(uint64(i), map[string]uint64{"float32": 1, "int8": 2, "hybrid": 7}[kind]))
			c := randLSTMCase(r, float)
			if kind == "hybrid" {
				c.hybrid, c.asym = true, r.IntN(2) == 0
			}
			name := kind + "/" + c.String()
			t.Run(name, func(t *testing.T) {
				const runs = 3
				model, in := buildLSTM(t, r, c, float, runs)
				for _, reset := range []bool{false, true} {
					want := capiRun(t, model, runs, reset, [][]byte{in})
					got := edgedRuns(t, model, &Options{Arithmetic: LiteRT}, runs, reset, [][]byte{in})
					if float {
						compareFloats(t, got[0], want[0], 1e-5)
					} else if d := firstDiff(got[0], want[0]); d >= 0 {
						t.Errorf("reset %v: byte %d of %d: edged %d, TFLite %d", reset, d, len(want[0]), int8(got[0][d]), int8(want[0][d]))
					}
				}
			})
		}
	}
}

func firstDiff(a, b []byte) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// compareFloats checks |got-want| <= tol·(1+|want|) element by element.
func compareFloats(t *testing.T, got, want []byte, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d bytes; want %d", len(got), len(want))
	}
	bad := 0
	for i := 0; i < len(got); i += 4 {
		g := float64(math.Float32frombits(binary.LittleEndian.Uint32(got[i:])))
		w := float64(math.Float32frombits(binary.LittleEndian.Uint32(want[i:])))
		if math.Abs(g-w) > tol*(1+math.Abs(w)) || math.IsNaN(g) != math.IsNaN(w) {
			if bad++; bad <= 5 {
				t.Errorf("element %d: edged %g, TFLite %g", i/4, g, w)
			}
		}
	}
}

// TestLSTMMNIST runs TFLite Micro's mnist_lstm example models on its ten
// sample digits (the repository's evaluate_test.py): the state is reset
// before each image, the arg-max of the ten outputs is the digit, and the
// int8 model's dequantized outputs are within 1e-2 of the float model's.
// Without a reset the state of the previous image changes the answer.
func TestLSTMMNIST(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "models")
	for _, arith := range []Arithmetic{Reference, LiteRT} {
		t.Run(arith.String(), func(t *testing.T) {
			mf, err := LoadFile(filepath.Join(dir, "trained_lstm.tflite"))
			if err != nil {
				t.Fatal(err)
			}
			mq, err := LoadFile(filepath.Join(dir, "trained_lstm_int8.tflite"))
			if err != nil {
				t.Fatal(err)
			}
			itf, err := NewInterpreter(mf, &Options{Arithmetic: arith})
			if err != nil {
				t.Fatal(err)
			}
			itq, err := NewInterpreter(mq, &Options{Arithmetic: arith})
			if err != nil {
				t.Fatal(err)
			}
			if !itf.Stateful() || !itq.Stateful() {
				t.Fatal("the LSTM models are not reported stateful")
			}
			for d := 0; d < 10; d++ {
				xf, err := os.ReadFile(filepath.Join(dir, "testdata", "mnist_lstm", fmt.Sprintf("sample%d_f32.bin", d)))
				if err != nil {
					t.Fatal(err)
				}
				xq, err := os.ReadFile(filepath.Join(dir, "testdata", "mnist_lstm", fmt.Sprintf("sample%d_int8.bin", d)))
				if err != nil {
					t.Fatal(err)
				}
				itf.ResetVariables()
				itq.ResetVariables()
				copy(itf.Input(0).Data, xf)
				copy(itq.Input(0).Data, xq)
				if err := itf.Invoke(); err != nil {
					t.Fatal(err)
				}
				if err := itq.Invoke(); err != nil {
					t.Fatal(err)
				}
				yf := itf.Output(0).Float32s()
				yq := itq.Output(0).Int8s()
				s, zp := itq.Output(0).Scale(), itq.Output(0).ZeroPoint()
				af, aq := 0, 0
				for i := range yf {
					if yf[i] > yf[af] {
						af = i
					}
					if yq[i] > yq[aq] {
						aq = i
					}
					if dq := float64(s) * float64(int32(yq[i])-zp); math.Abs(dq-float64(yf[i])) > 1e-2 {
						t.Errorf("sample %d output %d: int8 %g, float %g", d, i, dq, yf[i])
					}
				}
				if af != d || aq != d {
					t.Errorf("sample %d: arg-max float %d, int8 %d", d, af, aq)
				}
			}
			// Sample 0 again on the float model, first without a reset (the
			// state of sample 9 is still there), then with one.
			x0, err := os.ReadFile(filepath.Join(dir, "testdata", "mnist_lstm", "sample0_f32.bin"))
			if err != nil {
				t.Fatal(err)
			}
			run := func() []byte {
				copy(itf.Input(0).Data, x0)
				if err := itf.Invoke(); err != nil {
					t.Fatal(err)
				}
				return append([]byte(nil), itf.Output(0).Data...)
			}
			itf.ResetVariables()
			fresh := run()
			if firstDiff(run(), fresh) < 0 {
				t.Error("without a reset, a second run of sample 0 gives the same output as from fresh state")
			}
			itf.ResetVariables()
			if d := firstDiff(run(), fresh); d >= 0 {
				t.Errorf("after ResetVariables sample 0 differs from its first run at byte %d", d)
			}
			for _, it := range []*Interpreter{itf, itq} {
				if n := testing.AllocsPerRun(5, func() { it.ResetVariables(); _ = it.Invoke() }); n != 0 {
					t.Errorf("ResetVariables and Invoke allocate %v times", n)
				}
			}
		})
	}
}
