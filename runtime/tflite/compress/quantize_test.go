package compress

import (
	"bufio"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/runtime/tflite"
)

func testdataDir(t *testing.T) string {
	t.Helper()
	root, err := golden.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readModel(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir(t), "models", name+".tflite"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenInputs returns the input files of every golden case of a model.
func goldenInputs(t *testing.T, name string) (samples [][][]byte, cases []string) {
	t.Helper()
	s, err := golden.LoadSuite(filepath.Join(testdataDir(t), "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Cases {
		in, err := s.ReadInputs(&s.Cases[i])
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, in)
		cases = append(cases, s.Cases[i].Dir)
	}
	return samples, cases
}

// quantizeWith calibrates on samples and quantizes with opts.
func quantizeWith(t *testing.T, model []byte, samples [][][]byte, opts *QuantizeOptions) []byte {
	t.Helper()
	cal, err := Calibrate(model, samples, nil)
	if err != nil {
		t.Fatalf("Calibrate: %v", err)
	}
	q, err := Quantize(model, cal, opts)
	if err != nil {
		t.Fatalf("Quantize: %v", err)
	}
	return q
}

// TestQuantizeHelloWorld: calibrated on x uniform in [0, 2π] like the
// TFLite example's representative dataset; the int8 model stays within
// 0.05 of sin(x) at the example test's inputs (hello_world_test.cc).
func TestQuantizeHelloWorld(t *testing.T) {
	model := readModel(t, "hello_world_float")
	r := rand.New(rand.NewPCG(7, 7))
	var calib [][][]byte
	for range 500 {
		calib = append(calib, [][]byte{f32bytes(float32(r.Float64() * 2 * math.Pi))})
	}
	q := quantizeWith(t, model, calib, nil)
	eval, cases := goldenInputs(t, "hello_world_float")
	lite := runEdged(t, q, eval, tflite.LiteRT)
	for s, c := range cases {
		if !strings.HasPrefix(c, "x_") {
			continue
		}
		x := float64(f32s(eval[s][0])[0])
		y := float64(f32s(lite[s][0])[0])
		if d := math.Abs(y - math.Sin(x)); d > 0.05 {
			t.Errorf("Invoke(%s) = %.4f; want sin(%g) = %.4f within 0.05 (off by %.4f)", c, y, x, math.Sin(x), d)
		}
	}
	// Over the whole trained interval: the int8 model adds at most 0.05 to
	// the float model's own error.
	var grid [][][]byte
	for i := range 64 {
		grid = append(grid, [][]byte{f32bytes(float32(2 * math.Pi * float64(i) / 63))})
	}
	fl := runEdged(t, model, grid, tflite.Reference)
	qg := runEdged(t, q, grid, tflite.LiteRT)
	worst := 0.0
	for i := range grid {
		worst = max(worst, math.Abs(float64(f32s(qg[i][0])[0]-f32s(fl[i][0])[0])))
	}
	t.Logf("hello_world: max |int8 - float| over 64 points in [0, 2π] = %.4f", worst)
	if worst > 0.05 {
		t.Errorf("max |int8 - float| over [0, 2π] = %.4f; want <= 0.05", worst)
	}
	checkOracle(t, q, append(eval, grid[:8]...), 16)
}

// irisRows reads iris.csv's four features per row.
func irisRows(t *testing.T) [][][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(testdataDir(t), "models", "testdata", "iris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(p) != 5 || p[0] == "SepalLength" {
			continue
		}
		var v []float32
		for _, s := range p[:4] {
			x, err := strconv.ParseFloat(s, 32)
			if err != nil {
				t.Fatalf("iris.csv: %v", err)
			}
			v = append(v, float32(x))
		}
		rows = append(rows, [][]byte{f32bytes(v...)})
	}
	if len(rows) != 150 {
		t.Fatalf("iris.csv has %d rows; want 150", len(rows))
	}
	return rows
}

// fizzbuzzRows encodes n = 1..100 as the model's 7 input bits, least
// significant first (golden case n_3 is [1 1 0 0 0 0 0]).
func fizzbuzzRows() [][][]byte {
	var rows [][][]byte
	for n := 1; n <= 100; n++ {
		v := make([]float32, 7)
		for b := range v {
			v[b] = float32((n >> b) & 1)
		}
		rows = append(rows, [][]byte{f32bytes(v...)})
	}
	return rows
}

// TestQuantizeClassifiers: the int8 iris and fizzbuzz models give the
// float model's class on every row of their data.
func TestQuantizeClassifiers(t *testing.T) {
	tests := []struct {
		name string
		rows func(t *testing.T) [][][]byte
		// maxDisagree allows rows where the float model itself is close to
		// a tie: iris row 84 (5.4,3.0,4.5,1.5) has float probabilities
		// 0.443 / 0.557, a logit gap of 0.23, about one step of the int8
		// logits (their range spans tens of units), and the int8 model
		// ties it at 0.5 / 0.5.
		maxDisagree int
	}{
		{"iris", irisRows, 1},
		{"fizzbuzz_model", func(*testing.T) [][][]byte { return fizzbuzzRows() }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := readModel(t, tt.name)
			rows := tt.rows(t)
			q := quantizeWith(t, model, rows, nil)
			fl := runEdged(t, model, rows, tflite.Reference)
			qi := runEdged(t, q, rows, tflite.LiteRT)
			agree := 0
			for i := range rows {
				got, want := argmax32(f32s(qi[i][0])), argmax32(f32s(fl[i][0]))
				if got == want {
					agree++
				} else {
					t.Logf("Invoke(%s row %d) class = %d %v; float model %d %v", tt.name, i, got, f32s(qi[i][0]), want, f32s(fl[i][0]))
				}
			}
			t.Logf("%s: %d/%d rows agree; size %d -> %d bytes", tt.name, agree, len(rows), len(model), len(q))
			if len(rows)-agree > tt.maxDisagree {
				t.Errorf("%s: %d/%d rows agree with the float model; want at least %d", tt.name, agree, len(rows), len(rows)-tt.maxDisagree)
			}
			// The golden rows (the cases' expectations) agree strictly.
			eval, cases := goldenInputs(t, tt.name)
			ge := runEdged(t, q, eval, tflite.LiteRT)
			gf := runEdged(t, model, eval, tflite.Reference)
			for s, c := range cases {
				if got, want := argmax32(f32s(ge[s][0])), argmax32(f32s(gf[s][0])); got != want {
					t.Errorf("Invoke(%s %s) class = %d; want the float model's %d", tt.name, c, got, want)
				}
			}
			checkOracle(t, q, eval, 16)
			checkOpVersions(t, q)
		})
	}
}

// TestQuantizeIOTypes: --io int8 and uint8 expose integer I/O with the
// calibrated input parameters; hand-worked for hello_world's x in
// [0, 2π): the range widened to 0 gives zero point -128 (uint8: 0) and
// scale max(x)/255 (the converter's own hello_world_int8 has 0.02448 and
// -128).
func TestQuantizeIOTypes(t *testing.T) {
	model := readModel(t, "hello_world_float")
	var calib [][][]byte
	for i := range 256 {
		calib = append(calib, [][]byte{f32bytes(float32(2 * math.Pi * float64(i) / 255))})
	}
	tests := []struct {
		name     string
		io       IOType
		wantType string
		wantZP   int64
	}{
		{"int8", IOInt8, "INT8", -128},
		{"uint8", IOUInt8, "UINT8", 0},
		{"float32", IOFloat32, "FLOAT32", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := quantizeWith(t, model, calib, &QuantizeOptions{IO: tt.io})
			m, err := Read(q)
			if err != nil {
				t.Fatal(err)
			}
			sg := m.Subgraphs[0]
			in := sg.Tensors[sg.Inputs[0]]
			if in.Type.String() != tt.wantType {
				t.Fatalf("input type = %s; want %s", in.Type, tt.wantType)
			}
			if tt.io == IOFloat32 {
				return
			}
			wantScale := float32(2 * math.Pi / 255)
			if s := in.Quantization.Scale[0]; math.Abs(float64(s-wantScale)) > 1e-6 || in.Quantization.ZeroPoint[0] != tt.wantZP {
				t.Errorf("input quantization = %g, %d; want %g, %d", s, in.Quantization.ZeroPoint[0], wantScale, tt.wantZP)
			}
			// x = 1 is q = round(1/scale) + zp.
			x := int(math.Round(1/float64(wantScale))) + int(tt.wantZP)
			inputs := [][][]byte{{{byte(x)}}}
			want := runOracle(t, q, inputs, 1)
			got := runEdged(t, q, inputs, tflite.LiteRT)
			if got[0][0][0] != want[0][0][0] {
				t.Errorf("Invoke(litert, x=1 as %d) = %d; oracle %d", x, got[0][0][0], want[0][0][0])
			}
			out := sg.Tensors[sg.Outputs[0]].Quantization
			y := (float64(int8(got[0][0][0])) - float64(out.ZeroPoint[0])) * float64(out.Scale[0])
			if tt.io == IOUInt8 {
				y = (float64(got[0][0][0]) - float64(out.ZeroPoint[0])) * float64(out.Scale[0])
			}
			if math.Abs(y-math.Sin(1)) > 0.05 {
				t.Errorf("Invoke(x=1) = %.4f; want sin(1) = %.4f within 0.05", y, math.Sin(1))
			}
		})
	}
}

// TestAsymmetricParams: hand-worked values of TFLite's
// GetAsymmetricQuantizationParams (qmin -128, qmax 127).
func TestAsymmetricParams(t *testing.T) {
	tests := []struct {
		name      string
		lo, hi    float32
		wantScale float64
		wantZP    int64
	}{
		{"positive from 0", 0, 2.55, 0.01, -128},
		{"symmetric", -1, 1, 2.0 / 255, -1}, // -128 + 127.5 = -0.5 rounds away from zero
		{"negative", -2.55, 0, 0.01, 127},
		{"widened to 0 from above", 1, 2.55, 0.01, -128},
		{"widened to 0 from below", -2.55, -1, 0.01, 127},
		{"skewed", -0.51, 2.04, 0.01, -77}, // -128 + 51
		{"constant zero", 0, 0, 1.0 / 255, -128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := asymmetricParams(tt.lo, tt.hi)
			if math.Abs(float64(p.scale)-tt.wantScale) > 1e-7 || p.zp != tt.wantZP {
				t.Errorf("asymmetricParams(%g, %g) = %g, %d; want %g, %d", tt.lo, tt.hi, p.scale, p.zp, tt.wantScale, tt.wantZP)
			}
		})
	}
}

// TestQuantizeWeights checks the rewritten FULLY_CONNECTED weights and
// bias of hello_world against the definitions: w_q = round(w / s) with
// s = max|w| / 127 (one scale per tensor, or per output row with
// PerChannelFC), bias_q = round(b / (s_in * s)), zero points 0.
func TestQuantizeWeights(t *testing.T) {
	model := readModel(t, "hello_world_float")
	fm, err := Read(model)
	if err != nil {
		t.Fatal(err)
	}
	var calib [][][]byte
	for i := range 64 {
		calib = append(calib, [][]byte{f32bytes(float32(2 * math.Pi * float64(i) / 63))})
	}
	for _, perChannel := range []bool{false, true} {
		q := quantizeWith(t, model, calib, &QuantizeOptions{PerChannelFC: perChannel, IO: IOInt8})
		qm, err := Read(q)
		if err != nil {
			t.Fatal(err)
		}
		fsg, qsg := fm.Subgraphs[0], qm.Subgraphs[0]
		for i, op := range qsg.Operators {
			fop := fsg.Operators[i]
			w, _ := Float32Data(fm, fsg.Tensors[fop.Inputs[1]])
			b, _ := Float32Data(fm, fsg.Tensors[fop.Inputs[2]])
			wt, bt, it := qsg.Tensors[op.Inputs[1]], qsg.Tensors[op.Inputs[2]], qsg.Tensors[op.Inputs[0]]
			rows, cols := int(wt.Shape[0]), int(wt.Shape[1])
			if wt.Type.String() != "INT8" || bt.Type.String() != "INT32" {
				t.Fatalf("op %d: weights %s, bias %s; want INT8, INT32", i, wt.Type, bt.Type)
			}
			wq := bufferData(qm, wt)
			bq := bufferData(qm, bt)
			nScales := 1
			if perChannel {
				nScales = rows
			}
			if len(wt.Quantization.Scale) != nScales || len(bt.Quantization.Scale) != nScales {
				t.Fatalf("op %d per-channel=%v: %d weight and %d bias scales; want %d", i, perChannel, len(wt.Quantization.Scale), len(bt.Quantization.Scale), nScales)
			}
			for r := range rows {
				absMax := 0.0
				lo, hi := 0, len(w)
				if perChannel {
					lo, hi = r*cols, (r+1)*cols
				}
				for _, x := range w[lo:hi] {
					absMax = max(absMax, math.Abs(float64(x)))
				}
				s := absMax / 127
				for c := range cols {
					want := int8(math.Round(float64(w[r*cols+c]) / s))
					if got := int8(wq[r*cols+c]); got != want {
						t.Errorf("op %d per-channel=%v weight[%d][%d] = %d; want %d", i, perChannel, r, c, got, want)
					}
				}
				sIn := float64(it.Quantization.Scale[0])
				wantB := int32(math.Round(float64(b[r]) / (float64(float32(sIn) * float32(s)))))
				if got := int32(binary.LittleEndian.Uint32(bq[4*r:])); got != wantB && got-wantB != 1 && wantB-got != 1 {
					t.Errorf("op %d per-channel=%v bias[%d] = %d; want %d", i, perChannel, r, got, wantB)
				}
			}
		}
	}
}
