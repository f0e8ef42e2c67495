package kernels

import (
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// lstmGateData is one gate's float parameters: input weights [cells,
// inputs], recurrent weights [cells, outputs], bias [cells].
type lstmGateData struct{ w, r, b []float32 }

// lstmVectors is a test vector set: weights per gate (input, forget,
// cell, output; a nil input gate means CIFG), peephole weights for the
// input, forget and output gates, initial states, input and expected
// values.
type lstmVectors struct {
	batch, time, nIn, nCell int
	timeMajor               bool
	cellClip                float32
	gates                   [4]*lstmGateData
	peep                    [3][]float32
	h0, c0                  []float32
	input                   []float32
	wantOut, wantH, wantC   []float32
}

// tflmLSTM2x3x2x2 is TFLite Micro's LSTM kernel test data
// (tensorflow/lite/micro/kernels/testdata/lstm_test_data.cc @ 90b983c2:
// Create2x3x2X2FloatNodeContents and Get2X2LstmEvalCheckData): 2 batches,
// 3 time steps, 2 inputs, 2 cells, batch-major, cell clip 6, zero initial
// state. The forget gate's large negative weights make it forget, the
// input gate's large positive ones remember.
func tflmLSTM2x3x2x2() lstmVectors {
	return lstmVectors{
		batch: 2, time: 3, nIn: 2, nCell: 2, cellClip: 6,
		gates: [4]*lstmGateData{
			{w: []float32{10, 10, 20, 20}, r: []float32{10, 10, 20, 20}, b: []float32{-1, -2}},
			{w: []float32{-10, -10, -20, -20}, r: []float32{-10, -10, -20, -20}, b: []float32{1, 2}},
			{w: []float32{1, 1, 1, 1}, r: []float32{1, 1, 1, 1}, b: []float32{0, 0}},
			{w: []float32{1, 1, 1, 1}, r: []float32{1, 1, 1, 1}, b: []float32{0, 0}},
		},
		h0:    []float32{0, 0, 0, 0},
		c0:    []float32{0, 0, 0, 0},
		input: []float32{0.2, 0.3, 0.2, 0.3, 0.2, 0.3, -0.98, 0.62, 0.01, 0.99, 0.49, -0.32},
		wantOut: []float32{0.26455893, 0.26870455, 0.47935803, 0.47937014, 0.58013272, 0.58013278,
			-1.41184672e-3, -1.43329117e-5, 0.46887168, 0.46891281, 0.50054074, 0.50054148},
		wantH: []float32{0.58013272, 0.58013278, 0.50054074, 0.50054148},
		wantC: []float32{0.89740515, 0.8974053, 0.80327607, 0.80327785},
	}
}

// tflmLSTMOneStep is the same cell over one step from a non-zero state
// (Get2X2GateOutputCheckData), whose gate values the source derives by
// hand: forget gate sigmoid([-5,-10]) for batch 1, input gate
// sigmoid([5,10]), output gate sigmoid(0.6); the second batch's cell
// state -6.806 is clipped to -6.
func tflmLSTMOneStep() lstmVectors {
	v := tflmLSTM2x3x2x2()
	v.time = 1
	v.input = []float32{0.2, 0.3, -0.98, 0.62}
	v.h0 = []float32{-0.1, 0.2, -0.3, 0.5}
	v.c0 = []float32{-1.3, 6.2, -7.3, 3.5}
	v.wantC = []float32{0.52475447, 0.53730665, -6, 3.47992756}
	v.wantH = []float32{0.31079388, 0.3169827, -0.46007947, 0.45921249}
	v.wantOut = v.wantH
	return v
}

// tfliteLSTMNoCifg and tfliteLSTMCifgPeephole are TensorFlow Lite's
// unidirectional_sequence_lstm_test.cc (NoCifgNoPeepholeNoProjectionNoClipping
// and CifgPeepholeNoProjectionNoClipping): 1 batch, 3 time-major steps, 2
// inputs, 4 cells, tolerance 1e-5.
func tfliteLSTMNoCifg() lstmVectors {
	return lstmVectors{
		batch: 1, time: 3, nIn: 2, nCell: 4, timeMajor: true,
		gates: [4]*lstmGateData{
			{w: []float32{-0.45018822, -0.02338299, -0.0870589, -0.34550029, 0.04266912, -0.15680569, -0.34856534, 0.43890524},
				r: []float32{-0.0063535, -0.2042388, 0.31454784, -0.35746509, 0.28902304, 0.08183324, -0.16555229, 0.02286911,
					-0.13566875, 0.03034258, 0.48091322, -0.12528998, 0.24077177, -0.51332325, -0.33502164, 0.10629296},
				b: []float32{0, 0, 0, 0}},
			{w: []float32{0.09701663, 0.20334584, -0.50592935, -0.31343272, -0.40032279, 0.44781327, 0.01387155, -0.35593212},
				r: []float32{-0.48684245, -0.06655136, 0.42224967, 0.2112639, 0.27654213, 0.20864892, -0.07646349, 0.45877004,
					0.00141793, -0.14609534, 0.36447752, 0.09196436, 0.28053468, 0.01560611, -0.20127171, -0.01140004},
				b: []float32{1, 1, 1, 1}},
			{w: []float32{-0.50013041, 0.1370284, 0.11810488, 0.2013163, -0.20583314, 0.44344562, 0.22077113, -0.29909778},
				r: []float32{-0.3407414, 0.24443203, -0.2078532, 0.26320225, 0.05695659, -0.00123841, -0.4744786, -0.35869038,
					-0.06418842, -0.13502428, -0.501764, 0.22830659, -0.46367589, 0.26016325, -0.03894562, -0.16368064},
				b: []float32{0, 0, 0, 0}},
			{w: []float32{-0.25065863, -0.28290087, 0.04613829, 0.40525138, 0.44272184, 0.03897077, -0.1556896, 0.19487578},
				r: []float32{0.43385774, -0.17194885, 0.2718237, 0.09215671, 0.24107647, -0.39835793, 0.18212086, 0.01301402,
					0.48572797, -0.50656658, 0.20047462, -0.20607421, -0.51818722, -0.15390486, 0.0468148, 0.39922136},
				b: []float32{0, 0, 0, 0}},
		},
		h0: make([]float32, 4), c0: make([]float32, 4),
		input:   []float32{2, 3, 3, 4, 1, 1},
		wantOut: []float32{-0.02973187, 0.1229473, 0.20885126, -0.15358765, -0.03716109, 0.12507336, 0.41193449, -0.20860538, -0.15053082, 0.09120187, 0.24278517, -0.12222792},
	}
}

func tfliteLSTMCifgPeephole() lstmVectors {
	return lstmVectors{
		batch: 1, time: 3, nIn: 2, nCell: 4, timeMajor: true,
		gates: [4]*lstmGateData{
			nil,
			{w: []float32{-0.55291498, -0.42866567, 0.13056988, -0.3633365, -0.22755712, 0.28253698, 0.24407166, 0.33826375},
				r: []float32{-0.13832897, -0.0515101, -0.2359007, -0.16661474, -0.14340827, 0.36986142, 0.23414481, 0.55899,
					0.10798943, -0.41174671, 0.17751795, -0.34484994, -0.35874045, -0.11352962, 0.27268326, 0.54058349},
				b: []float32{1, 1, 1, 1}},
			{w: []float32{-0.49770179, -0.27711356, -0.09624726, 0.05100781, 0.04717243, 0.48944736, -0.38535351, -0.17212132},
				r: []float32{0.54066205, -0.32668582, -0.43562764, -0.56094903, 0.42957711, 0.01841056, -0.32764608, -0.33027974,
					-0.10826075, 0.20675004, 0.19069612, -0.03026325, -0.54532051, 0.33003211, 0.44901288, 0.21193194},
				b: []float32{0, 0, 0, 0}},
			{w: []float32{0.10725588, -0.02335852, -0.55932593, -0.09426838, -0.44257352, 0.54939759, 0.01533556, 0.42751634},
				r: []float32{0.41613156, 0.42610586, -0.16495961, -0.5663873, 0.30579174, -0.05115908, -0.33941799, 0.23364776,
					0.11178309, 0.09481031, -0.26424935, 0.46261835, 0.50248802, 0.26114327, -0.43736315, 0.33149987},
				b: []float32{0, 0, 0, 0}},
		},
		peep: [3][]float32{nil, {0.47485286, -0.51955009, -0.24458408, 0.31544167}, {-0.17135078, 0.82760304, 0.85573703, -0.77109635}},
		h0:   make([]float32, 4), c0: make([]float32, 4),
		input:   []float32{2, 3, 3, 4, 1, 1},
		wantOut: []float32{-0.36444446, -0.00352185, 0.12886585, -0.05163646, -0.42312205, -0.01218222, 0.24201041, -0.08124574, -0.358325, -0.04621704, 0.21641694, -0.06471302},
	}
}

func constT(name string, dt tensor.DType, shape []int, q *tensor.Quant, vals any) *tensor.Tensor {
	t := convT(name, dt, shape, q, vals)
	t.Const = true
	return t
}

// buildFloatLSTM returns the kernel, its output and state tensors.
func buildFloatLSTM(t *testing.T, v lstmVectors) (Kernel, *tensor.Tensor, *tensor.Tensor, *tensor.Tensor) {
	t.Helper()
	in := make([]*tensor.Tensor, LSTMNumInputs)
	xShape := []int{v.batch, v.time, v.nIn}
	if v.timeMajor {
		xShape = []int{v.time, v.batch, v.nIn}
	}
	in[LSTMInput] = convT("x", tensor.Float32, xShape, nil, v.input)
	for g, d := range v.gates {
		if d == nil {
			continue
		}
		in[LSTMInputToInputWeights+g] = constT("w", tensor.Float32, []int{v.nCell, v.nIn}, nil, d.w)
		in[LSTMRecurrentToInputWeights+g] = constT("r", tensor.Float32, []int{v.nCell, v.nCell}, nil, d.r)
		in[LSTMInputGateBias+g] = constT("b", tensor.Float32, []int{v.nCell}, nil, d.b)
	}
	for i, p := range v.peep {
		if p != nil {
			in[LSTMCellToInputWeights+i] = constT("p", tensor.Float32, []int{v.nCell}, nil, p)
		}
	}
	in[LSTMOutputState] = convT("h", tensor.Float32, []int{v.batch, v.nCell}, nil, v.h0)
	in[LSTMCellState] = convT("c", tensor.Float32, []int{v.batch, v.nCell}, nil, v.c0)
	out := convT("y", tensor.Float32, []int{v.batch * v.time * v.nCell}, nil, nil)
	k, err := UnidirectionalSequenceLSTM(&Config{}, LSTMParams{Activation: ActTanh, CellClip: v.cellClip, TimeMajor: v.timeMajor}, in, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	return k, out, in[LSTMOutputState], in[LSTMCellState]
}

func checkNear(t *testing.T, what string, got []float64, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values; want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - float64(want[i])); d > tol {
			t.Errorf("%s[%d] = %g; want %g (±%g)", what, i, got[i], want[i], tol)
		}
	}
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestLSTMFloatVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    lstmVectors
		tol  float64
	}{
		{"tflm_2x3x2x2", tflmLSTM2x3x2x2(), 1e-6},
		{"tflm_one_step", tflmLSTMOneStep(), 1e-6},
		{"tflite_no_cifg", tfliteLSTMNoCifg(), 1e-5},
		{"tflite_cifg_peephole", tfliteLSTMCifgPeephole(), 1e-5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, out, h, c := buildFloatLSTM(t, tc.v)
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			checkNear(t, "output", f64s(out.Float32s()), tc.v.wantOut, tc.tol)
			if tc.v.wantH != nil {
				checkNear(t, "hidden", f64s(h.Float32s()), tc.v.wantH, tc.tol)
				checkNear(t, "cell", f64s(c.Float32s()), tc.v.wantC, tc.tol)
			}
		})
	}
}

// lstmInt8Quant is TFLite Micro's Get2X2Int8LstmQuantizationSettings: the
// scales of input, hidden state (zero point -21), cell state (2^-12) and
// per gate (input, forget, cell, output) the input weights, recurrent
// weights and bias.
var lstmInt8Quant = struct {
	in, h     float32
	inZP, hZP int32
	gate      [4][3]float32
}{
	in: 0.00784313725490196, h: 0.004705882165580988, hZP: -21,
	gate: [4][3]float32{
		{0.15748031496062992, 0.15748031496062992, 0.0012351397251814111},
		{0.15748031496062992, 0.15748031496062992, 0.0012351397251814111},
		{0.007874015748031496, 0.007874015748031496, 6.175698625907056e-5},
		{0.007874015748031496, 0.007874015748031496, 6.175698625907056e-5},
	},
}

func quantizeTo[T int8 | int16 | int32](v []float32, scale float32, zp int32, lo, hi float64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(math.Max(lo, math.Min(hi, math.Round(float64(x)/float64(scale))+float64(zp))))
	}
	return out
}

// TestLSTMInt8Vectors runs TFLite Micro's int8 LSTM test
// (unidirectional_sequence_lstm_test.cc TestUnidirectionalLSTMInt8: the
// float data above quantized with its settings, dequantized outputs,
// hidden and cell state within 1e-2 of the float expectations) in both
// arithmetics. (The one-step case does not apply: its input product plus
// bias, 9.2, saturates the Q3.12 gate accumulator in both integer
// kernels.)
func TestLSTMInt8Vectors(t *testing.T) {
	q := lstmInt8Quant
	for _, arith := range []Arithmetic{Reference, LiteRT} {
		for _, tc := range []struct {
			name string
			v    lstmVectors
		}{{"2x3x2x2", tflmLSTM2x3x2x2()}} {
			t.Run(arith.String()+"/"+tc.name, func(t *testing.T) {
				v := tc.v
				in := make([]*tensor.Tensor, LSTMNumInputs)
				in[LSTMInput] = convT("x", tensor.Int8, []int{v.batch, v.time, v.nIn}, convQ(q.in, q.inZP), quantizeTo[int8](v.input, q.in, q.inZP, -128, 127))
				for g, d := range v.gates {
					gq := q.gate[g]
					in[LSTMInputToInputWeights+g] = constT("w", tensor.Int8, []int{v.nCell, v.nIn}, convQ(gq[0], 0), quantizeTo[int8](d.w, gq[0], 0, -127, 127))
					in[LSTMRecurrentToInputWeights+g] = constT("r", tensor.Int8, []int{v.nCell, v.nCell}, convQ(gq[1], 0), quantizeTo[int8](d.r, gq[1], 0, -127, 127))
					in[LSTMInputGateBias+g] = constT("b", tensor.Int32, []int{v.nCell}, convQ(gq[2], 0), quantizeTo[int32](d.b, gq[2], 0, math.MinInt32, math.MaxInt32))
				}
				const cellScale = 1.0 / 4096
				h := convT("h", tensor.Int8, []int{v.batch, v.nCell}, convQ(q.h, q.hZP), quantizeTo[int8](v.h0, q.h, q.hZP, -128, 127))
				c := convT("c", tensor.Int16, []int{v.batch, v.nCell}, convQ(cellScale, 0), quantizeTo[int16](v.c0, cellScale, 0, -32768, 32767))
				in[LSTMOutputState], in[LSTMCellState] = h, c
				out := convT("y", tensor.Int8, []int{v.batch * v.time * v.nCell}, convQ(q.h, q.hZP), nil)
				k, err := UnidirectionalSequenceLSTM(&Config{Arithmetic: arith}, LSTMParams{Activation: ActTanh, CellClip: v.cellClip}, in, nil, out)
				if err != nil {
					t.Fatal(err)
				}
				if err := k.Eval(); err != nil {
					t.Fatal(err)
				}
				deq := func(vals []int8) []float64 {
					r := make([]float64, len(vals))
					for i, x := range vals {
						r[i] = float64(q.h) * float64(int32(x)-q.hZP)
					}
					return r
				}
				checkNear(t, "output", deq(out.Int8s()), v.wantOut, 1e-2)
				checkNear(t, "hidden", deq(h.Int8s()), v.wantH, 1e-2)
				cs := make([]float64, len(c.Int16s()))
				for i, x := range c.Int16s() {
					cs[i] = float64(x) * cellScale
				}
				checkNear(t, "cell", cs, v.wantC, 1e-2)
			})
		}
	}
}

// TestFixedPoint16 checks the 16-bit gemmlowp logistic and tanh against
// the functions they approximate and at the points gemmlowp defines
// exactly. The 16-bit polynomial is coarse: the measured error is at most
// 12 units of 2^-15 for every input; the bound is 16. (Bit-exactness with
// TensorFlow Lite is checked through whole LSTMs in package tflite.)
func TestFixedPoint16(t *testing.T) {
	if got := fp16Logistic(0, 3); got != 16384 {
		t.Errorf("logistic(0) = %d; want 16384 (gemmlowp's one half)", got)
	}
	if got := fp16Tanh(0, 3); got != 0 {
		t.Errorf("tanh(0) = %d; want 0", got)
	}
	for _, bits := range []int{0, 1, 2, 3, 4, 5, 6} {
		maxErr := 0.0
		for raw := -32768; raw <= 32767; raw++ {
			x := float64(raw) / float64(int(1)<<(15-bits))
			l := float64(fp16Logistic(int16(raw), bits)) / 32768
			th := float64(fp16Tanh(int16(raw), bits)) / 32768
			maxErr = max(maxErr, math.Abs(l-1/(1+math.Exp(-x))), math.Abs(th-math.Tanh(x)))
		}
		if maxErr > 16.0/32768 {
			t.Errorf("%d integer bits: max error %g (%.1f units of 2^-15)", bits, maxErr, maxErr*32768)
		}
	}
}
