package compress

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// The test weights are W = U diag(σ) Vᵀ (6×8) with U, V Householder
// reflections H = I - 2vvᵀ/vᵀv, orthogonal by construction, so the
// singular values are known without an SVD: a rank-3 signal (8, 5, 3)
// plus three small ones (0.02, 0.01, 0.005) standing for noise.
var fzSigma = []float64{8, 5, 3, 0.02, 0.01, 0.005}

const fzOut, fzIn = 6, 8

// householder returns I - 2vvᵀ/(vᵀv), n×n, row-major.
func householder(v []float64) [][]float64 {
	n := len(v)
	var vv float64
	for _, x := range v {
		vv += x * x
	}
	h := make([][]float64, n)
	for i := range h {
		h[i] = make([]float64, n)
		for j := range h[i] {
			if i == j {
				h[i][j] = 1
			}
			h[i][j] -= 2 * v[i] * v[j] / vv
		}
	}
	return h
}

var (
	fzU = householder([]float64{1, 2, -1, 0, 3, 1})        // 6×6; column k is u_k
	fzV = householder([]float64{2, -1, 1, 1, 0, -2, 1, 3}) // 8×8; column k is v_k
)

// fzWeights returns W (fzOut×fzIn, row-major) = Σ_k σ_k u_k v_kᵀ.
func fzWeights() []float32 {
	w := make([]float32, fzOut*fzIn)
	for i := 0; i < fzOut; i++ {
		for j := 0; j < fzIn; j++ {
			var s float64
			for k, sig := range fzSigma {
				s += fzU[i][k] * sig * fzV[j][k]
			}
			w[i*fzIn+j] = float32(s)
		}
	}
	return w
}

var fzBias = []float32{0.5, -1, 0.25, 0, 2, -0.75}

// fzModel is one float FULLY_CONNECTED, 8 → 6, with bias and no
// activation, so that the output error is (W - W_r)x exactly.
func fzModel(t *testing.T) []byte {
	t.Helper()
	b := tflitetest.NewBuilder()
	in := b.Tensor("x", tensor.Float32, []int{1, fzIn}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{fzOut, fzIn}, nil, tflitetest.Float32Bytes(fzWeights()))
	bias := b.Const("b", tensor.Float32, []int{fzOut}, nil, tflitetest.Float32Bytes(fzBias))
	out := b.Tensor("y", tensor.Float32, []int{1, fzOut}, nil, nil)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{in, w, bias}, []int{out}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, false))
	b.Inputs(in)
	b.Outputs(out)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fpInvoke runs a single-input, single-output float model in edged.
func fpInvoke(t *testing.T, model []byte, x []byte) []byte {
	t.Helper()
	m, err := tflite.Load(model)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatalf("NewInterpreter: %v", err)
	}
	if len(x) != len(it.Input(0).Data) {
		t.Fatalf("input has %d bytes; the model needs %d", len(x), len(it.Input(0).Data))
	}
	copy(it.Input(0).Data, x)
	if err := it.Invoke(); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return append([]byte(nil), it.Output(0).Data...)
}

func fpF32s(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// fpOracleDir finds the TFLite oracle as runtime/tflite's differential
// tests do: $EDGED_ORACLE, else <repo>/.cache/oracle (or
// $EDGED_ORACLE_CACHE); missing means skip, or fail under
// EDGED_REQUIRE_TOOLS.
func fpOracleDir(t *testing.T) string {
	t.Helper()
	usable := func(d string) bool {
		_, err1 := os.Stat(filepath.Join(d, "oracle.mjs"))
		_, err2 := os.Stat(filepath.Join(d, "node_modules", "@litertjs", "core"))
		return err1 == nil && err2 == nil
	}
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is not installed; the oracle needs Node.js >= 20")
	}
	if d := os.Getenv("EDGED_ORACLE"); d != "" {
		d = strings.TrimSuffix(d, "oracle.mjs")
		if !usable(d) {
			t.Fatalf("EDGED_ORACLE=%s: want a directory with oracle.mjs and node_modules/@litertjs/core", d)
		}
		return d
	}
	cache := os.Getenv("EDGED_ORACLE_CACHE")
	if cache == "" {
		cache = filepath.Join("..", "..", "..", ".cache", "oracle")
	}
	if !usable(cache) {
		testenv.Missing(t, "no TFLite oracle in %s; set EDGED_ORACLE or run scripts/oracle-setup.sh", cache)
	}
	abs, err := filepath.Abs(cache)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// fpOracleRun runs a single-input model in the oracle and returns output 0.
func fpOracleRun(t *testing.T, dir string, model, input []byte) []byte {
	t.Helper()
	work := t.TempDir()
	mp, ip, out := filepath.Join(work, "model.tflite"), filepath.Join(work, "input_0.bin"), filepath.Join(work, "out")
	if err := os.WriteFile(mp, model, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ip, input, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "oracle.mjs"), "run", mp, "--input", ip, "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oracle run: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(out, "output_0.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fzFactorize(t *testing.T, model []byte, opts FactorizeOptions) ([]byte, []Factorization) {
	t.Helper()
	m, err := Read(model)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Factorize(m, opts)
	if err != nil {
		t.Fatalf("Factorize: %v", err)
	}
	out, err := Write(m)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out, res
}

func TestFactorizeRankBound(t *testing.T) {
	model := fzModel(t)
	got, res := fzFactorize(t, model, FactorizeOptions{Rank: 3})
	if len(res) != 1 || res[0].Skipped != "" || res[0].Rank != 3 {
		t.Fatalf("Factorize(rank 3) = %+v; want one layer at rank 3", res)
	}
	for k, s := range fzSigma {
		if d := math.Abs(res[0].Sigma[k] - s); d > 1e-5 {
			t.Errorf("Sigma[%d] = %g; want %g (constructed)", k, res[0].Sigma[k], s)
		}
	}

	// Parameters and MACs by hand: 6×8 weights + 6 bias = 54 before;
	// 3×8 + 6×3 + 6 = 48 after. MACs 48 before, 24 + 18 = 42 after.
	for _, c := range []struct {
		name         string
		data         []byte
		params, macs int64
		ops          int
	}{
		{"original", model, 54, 48, 1},
		{"rank 3", got, 48, 42, 2},
	} {
		m, err := tflite.Load(c.data)
		if err != nil {
			t.Fatal(err)
		}
		it, err := tflite.NewInterpreter(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p := m.Params(); p != c.params {
			t.Errorf("Params(%s) = %d; want %d", c.name, p, c.params)
		}
		if n := it.MACs(); n != c.macs {
			t.Errorf("MACs(%s) = %d; want %d", c.name, n, c.macs)
		}
		if n := len(m.Subgraphs[0].Operators); n != c.ops {
			t.Errorf("operators(%s) = %d; want %d", c.name, n, c.ops)
		}
	}
	if res[0].ParamsBefore != 48 || res[0].ParamsAfter != 42 {
		t.Errorf("Factorize weights %d → %d; want 48 → 42", res[0].ParamsBefore, res[0].ParamsAfter)
	}

	// ‖W - W_3‖₂ = σ₄, so ‖Δy‖₂ ≤ σ₄‖x‖₂ for any x; x = v₄ reaches it.
	r := rand.New(rand.NewPCG(7, 7))
	oracle := ""
	if testing.Short() {
		t.Log("-short: the oracle comparison is skipped")
	} else {
		oracle = fpOracleDir(t)
	}
	for c := 0; c < 6; c++ {
		x := make([]float32, fzIn)
		name := fmt.Sprintf("random %d", c)
		if c == 0 {
			name = "v4"
			for j := range x {
				x[j] = float32(fzV[j][3])
			}
		} else {
			for j := range x {
				x[j] = float32(r.NormFloat64())
			}
		}
		var xn float64
		for _, v := range x {
			xn += float64(v) * float64(v)
		}
		xn = math.Sqrt(xn)
		in := tflitetest.Float32Bytes(x)
		y0, y1 := fpF32s(fpInvoke(t, model, in)), fpF32s(fpInvoke(t, got, in))
		var dn float64
		for i := range y0 {
			d := float64(y1[i] - y0[i])
			dn += d * d
		}
		dn = math.Sqrt(dn)
		bound := fzSigma[3]*xn + 1e-5*(1+xn)
		if dn > bound {
			t.Errorf("%s: ‖Δy‖₂ = %g; want ≤ σ₄‖x‖₂ = %g", name, dn, bound)
		}
		if c == 0 && math.Abs(dn-fzSigma[3]) > 1e-4 {
			t.Errorf("v4: ‖Δy‖₂ = %g; want σ₄ = %g (the discarded direction)", dn, fzSigma[3])
		}
		if oracle != "" {
			want := fpF32s(fpOracleRun(t, oracle, got, in))
			for i := range want {
				if d := math.Abs(float64(y1[i] - want[i])); d > 1e-4+1e-4*math.Abs(float64(want[i])) {
					t.Errorf("%s: edged output[%d] = %g; oracle %g", name, i, y1[i], want[i])
				}
			}
		}
	}
}

func TestFactorizeChooseRank(t *testing.T) {
	// σ² = 64, 25, 9, 4e-4, 1e-4, 2.5e-5; Σ = 98.000525.
	tests := []struct {
		name     string
		opts     FactorizeOptions
		want     int
		skipped  bool
		wantErr  bool
		wantEnrg float64
	}{
		{name: "energy 0.6", opts: FactorizeOptions{Energy: 0.6}, want: 1, wantEnrg: 64 / 98.000525},
		{name: "energy 0.9", opts: FactorizeOptions{Energy: 0.9}, want: 2, wantEnrg: 89 / 98.000525},
		{name: "energy 0.95", opts: FactorizeOptions{Energy: 0.95}, want: 3, wantEnrg: 98 / 98.000525},
		// rank 4 holds 4×(8+6) = 56 ≥ 48 weights: not worth it.
		{name: "rank 4", opts: FactorizeOptions{Rank: 4}, skipped: true},
		{name: "energy 1", opts: FactorizeOptions{Energy: 1}, skipped: true},
		{name: "rank 4 forced", opts: FactorizeOptions{Rank: 4, Force: true}, want: 4, wantEnrg: 98.0004 / 98.000525},
		{name: "rank 9 clamps to 6", opts: FactorizeOptions{Rank: 9, Force: true}, want: 6, wantEnrg: 1},
		{name: "no rank or energy", opts: FactorizeOptions{}, wantErr: true},
		{name: "unknown layer", opts: FactorizeOptions{Rank: 1, Layers: []string{"nope"}}, wantErr: true},
		{name: "by weight name", opts: FactorizeOptions{Rank: 1, Layers: []string{"w"}}, want: 1, wantEnrg: 64 / 98.000525},
	}
	model := fzModel(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Read(model)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Factorize(m, tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Factorize(%+v) error = %v; wantErr %v", tt.opts, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if tt.skipped {
				if res[0].Skipped == "" {
					t.Errorf("Factorize(%+v) factorized at rank %d; want it skipped", tt.opts, res[0].Rank)
				}
				return
			}
			if res[0].Rank != tt.want {
				t.Errorf("Factorize(%+v) rank = %d (%s); want %d", tt.opts, res[0].Rank, res[0].Skipped, tt.want)
			}
			if math.Abs(res[0].Energy-tt.wantEnrg) > 1e-6 {
				t.Errorf("Factorize(%+v) energy = %.7f; want %.7f", tt.opts, res[0].Energy, tt.wantEnrg)
			}
			if _, err := Write(m); err != nil {
				t.Errorf("Write: %v", err)
			}
		})
	}
}

// Full rank reproduces the layer: the shared float models give the same
// outputs within float rounding.
func TestFactorizeFullRankSharedModels(t *testing.T) {
	tests := []struct {
		name   string
		layers int
	}{
		{"iris", 2},
		{"fizzbuzz_model", 2},
		{"hello_world_float", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "models", tt.name+".tflite"))
			if err != nil {
				t.Fatal(err)
			}
			got, res := fzFactorize(t, model, FactorizeOptions{Rank: 1 << 20, Force: true})
			if len(res) != tt.layers {
				t.Fatalf("Factorize(%s) rewrote %d layers; want %d", tt.name, len(res), tt.layers)
			}
			for _, f := range res {
				if f.Skipped != "" || f.Rank != min(f.In, f.Out) {
					t.Errorf("layer %s: rank %d (%s); want full rank %d", f.Layer, f.Rank, f.Skipped, min(f.In, f.Out))
				}
			}
			m, _ := tflite.Load(got)
			if n, want := len(m.Subgraphs[0].Operators), countOps(t, model)+tt.layers; n != want {
				t.Errorf("operators = %d; want %d", n, want)
			}
			inputs, err := RandomInputs(model, 20, 3)
			if err != nil {
				t.Fatal(err)
			}
			for s, in := range inputs {
				y0, y1 := fpF32s(fpInvoke(t, model, in[0])), fpF32s(fpInvoke(t, got, in[0]))
				for i := range y0 {
					if d := math.Abs(float64(y1[i] - y0[i])); d > 1e-4 {
						t.Errorf("sample %d output[%d] = %g; original %g", s, i, y1[i], y0[i])
					}
				}
			}
		})
	}
}

func countOps(t *testing.T, model []byte) int {
	m, err := tflite.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Subgraphs[0].Operators)
}

func TestFactorizeRefusesQuantized(t *testing.T) {
	model, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "models", "hello_world_int8.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Read(model)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Factorize(m, FactorizeOptions{Rank: 1})
	if err != nil {
		t.Fatalf("Factorize(all layers) error = %v; want the layers skipped", err)
	}
	for _, f := range res {
		if !strings.Contains(f.Skipped, "INT8") {
			t.Errorf("layer %s: Skipped = %q; want it to name the INT8 weights", f.Layer, f.Skipped)
		}
	}
	name := res[0].Layer
	m, _ = Read(model)
	if _, err := Factorize(m, FactorizeOptions{Rank: 1, Layers: []string{name}}); err == nil || !strings.Contains(err.Error(), "float") {
		t.Errorf("Factorize(layer %q) error = %v; want a refusal saying only float layers are factorized", name, err)
	}
}

// A rank-3 input with keep_num_dims: the middle tensor keeps the leading
// dimensions ([1 2 r]) and the output its shape [1 2 6].
func TestFactorizeKeepNumDims(t *testing.T) {
	b := tflitetest.NewBuilder()
	in := b.Tensor("x", tensor.Float32, []int{1, 2, fzIn}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{fzOut, fzIn}, nil, tflitetest.Float32Bytes(fzWeights()))
	out := b.Tensor("y", tensor.Float32, []int{1, 2, fzOut}, nil, nil)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{in, w, tflitetest.NoInput}, []int{out}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeRELU, true))
	b.Inputs(in)
	b.Outputs(out)
	model, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	got, res := fzFactorize(t, model, FactorizeOptions{Rank: 3})
	if res[0].Rank != 3 {
		t.Fatalf("Factorize rank = %d (%s); want 3", res[0].Rank, res[0].Skipped)
	}
	m, err := tflite.Load(got)
	if err != nil {
		t.Fatal(err)
	}
	sg := m.Subgraphs[0]
	mid := sg.Tensors[sg.Operators[0].Outputs[0]]
	if fmt.Sprint(mid.Shape) != "[1 2 3]" {
		t.Errorf("middle tensor shape = %v; want [1 2 3]", mid.Shape)
	}
	x := make([]float32, 2*fzIn)
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	in0 := tflitetest.Float32Bytes(x)
	y0, y1 := fpF32s(fpInvoke(t, model, in0)), fpF32s(fpInvoke(t, got, in0))
	if len(y1) != 2*fzOut {
		t.Fatalf("output has %d values; want %d", len(y1), 2*fzOut)
	}
	// RELU is 1-Lipschitz: each row's error stays within σ₄‖x_row‖₂.
	for row := 0; row < 2; row++ {
		var xn, dn float64
		for _, v := range x[row*fzIn : (row+1)*fzIn] {
			xn += float64(v) * float64(v)
		}
		for i := row * fzOut; i < (row+1)*fzOut; i++ {
			d := float64(y1[i] - y0[i])
			dn += d * d
		}
		if bound := fzSigma[3]*math.Sqrt(xn) + 1e-4; math.Sqrt(dn) > bound {
			t.Errorf("row %d: ‖Δy‖₂ = %g; want ≤ %g", row, math.Sqrt(dn), bound)
		}
	}
}
