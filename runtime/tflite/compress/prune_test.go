package compress

import (
	"bytes"
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func prQuant(scale []float32, zp []int32, axis int) *tensor.Quant {
	return &tensor.Quant{Scale: scale, ZeroPoint: zp, Axis: axis}
}

// prFloatFC: y = W x + b, W = [[0.5 -0.1 0 2] [-0.3 0.05 1 -0.7]].
func prFloatFC(t *testing.T) []byte {
	b := tflitetest.NewBuilder()
	in := b.Tensor("x", tensor.Float32, []int{1, 4}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{2, 4}, nil, tflitetest.Float32Bytes([]float32{0.5, -0.1, 0, 2, -0.3, 0.05, 1, -0.7}))
	bias := b.Const("b", tensor.Float32, []int{2}, nil, tflitetest.Float32Bytes([]float32{0.1, -0.2}))
	out := b.Tensor("y", tensor.Float32, []int{1, 2}, nil, nil)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{in, w, bias}, []int{out}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, false))
	b.Inputs(in)
	b.Outputs(out)
	return prBytes(t, b)
}

// prInt8Conv: 1×1 CONV_2D, 3 → 2 channels on 4×4, per-channel weights
// with scales 0.1 and 1.0: channel 0 [10 -2 5], channel 1 [1 -3 0].
func prInt8Conv(t *testing.T) []byte {
	b := tflitetest.NewBuilder()
	in := b.Tensor("x", tensor.Int8, []int{1, 4, 4, 3}, prQuant([]float32{0.1}, []int32{-3}, 0), nil)
	w := b.Const("w", tensor.Int8, []int{2, 1, 1, 3}, prQuant([]float32{0.1, 1.0}, []int32{0, 0}, 0), tflitetest.Int8Bytes([]int8{10, -2, 5, 1, -3, 0}))
	bias := b.Const("b", tensor.Int32, []int{2}, prQuant([]float32{0.01, 0.1}, []int32{0, 0}, 0), tflitetest.Int32Bytes([]int32{10, -5}))
	out := b.Tensor("y", tensor.Int8, []int{1, 4, 4, 2}, prQuant([]float32{0.05}, []int32{2}, 0), nil)
	b.Op(schema.BuiltinOperatorCONV_2D, 3, []int{in, w, bias}, []int{out},
		tflitetest.Conv2DOptions(schema.PaddingVALID, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	b.Inputs(in)
	b.Outputs(out)
	return prBytes(t, b)
}

// prUint8FC: 6 → 1, weights zero point 128, scale 0.5.
func prUint8FC(t *testing.T) []byte {
	b := tflitetest.NewBuilder()
	in := b.Tensor("x", tensor.UInt8, []int{1, 6}, prQuant([]float32{0.1}, []int32{128}, 0), nil)
	w := b.Const("w", tensor.UInt8, []int{1, 6}, prQuant([]float32{0.5}, []int32{128}, 0), []byte{128, 130, 120, 129, 140, 100})
	bias := b.Const("b", tensor.Int32, []int{1}, prQuant([]float32{0.05}, []int32{0}, 0), tflitetest.Int32Bytes([]int32{7}))
	out := b.Tensor("y", tensor.UInt8, []int{1, 1}, prQuant([]float32{0.5}, []int32{128}, 0), nil)
	b.Op(schema.BuiltinOperatorFULLY_CONNECTED, 1, []int{in, w, bias}, []int{out}, tflitetest.FullyConnectedOptions(schema.ActivationFunctionTypeNONE, false))
	b.Inputs(in)
	b.Outputs(out)
	return prBytes(t, b)
}

// prFloatDepthwise: 2×2 depthwise on 3×3×2, VALID: 2×2 output positions.
func prFloatDepthwise(t *testing.T) []byte {
	b := tflitetest.NewBuilder()
	in := b.Tensor("x", tensor.Float32, []int{1, 3, 3, 2}, nil, nil)
	w := b.Const("w", tensor.Float32, []int{1, 2, 2, 2}, nil, tflitetest.Float32Bytes([]float32{0.3, -0.2, 0.9, 0.1, -0.4, 0, 0.6, -0.05}))
	bias := b.Const("b", tensor.Float32, []int{2}, nil, tflitetest.Float32Bytes([]float32{0, 1}))
	out := b.Tensor("y", tensor.Float32, []int{1, 2, 2, 2}, nil, nil)
	b.Op(schema.BuiltinOperatorDEPTHWISE_CONV_2D, 1, []int{in, w, bias}, []int{out},
		tflitetest.DepthwiseConv2DOptions(schema.PaddingVALID, 1, 1, 1, schema.ActivationFunctionTypeNONE, 1, 1))
	b.Inputs(in)
	b.Outputs(out)
	return prBytes(t, b)
}

func prBytes(t *testing.T, b *tflitetest.Builder) []byte {
	t.Helper()
	d, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// prWeights returns the bytes of the tensor named "w".
func prWeights(t *testing.T, model []byte) []byte {
	t.Helper()
	m, err := Read(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range m.Subgraphs[0].Tensors {
		if tt.Name == "w" {
			return bufferData(m, tt)
		}
	}
	t.Fatal("no tensor w")
	return nil
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name        string
		model       func(*testing.T) []byte
		sparsity    float64
		want        []byte // pruned weights
		zerosBefore int
		zerosAfter  int
		macs, skip  int64
		wantErr     bool
	}{
		{
			// k = 4 of 8: the existing 0, then 0.05, 0.1, 0.3.
			name: "float FC 0.5", model: prFloatFC, sparsity: 0.5,
			want:        tflitetest.Float32Bytes([]float32{0.5, 0, 0, 2, 0, 0, 1, -0.7}),
			zerosBefore: 1, zerosAfter: 4, macs: 8, skip: 4,
		},
		{
			// |q|·scale: ch0 1.0 0.2 0.5, ch1 1.0 3.0 0: k = 3 takes the 0,
			// 0.2 and 0.5; channel 1's q=1 (1.0) stays although |q| < 5.
			name: "int8 per-channel conv 0.5", model: prInt8Conv, sparsity: 0.5,
			want:        tflitetest.Int8Bytes([]int8{10, 0, 0, 1, -3, 0}),
			zerosBefore: 1, zerosAfter: 3, macs: 16 * 6, skip: 16 * 3,
		},
		{
			// |q-128|: 0 2 8 1 12 28; k = floor(0.34·6) = 2: the 128 and the 129.
			name: "uint8 FC 0.34", model: prUint8FC, sparsity: 0.34,
			want:        []byte{128, 130, 120, 128, 140, 100},
			zerosBefore: 1, zerosAfter: 2, macs: 6, skip: 2,
		},
		{
			// k = 2 of 8: the 0 and -0.05; 4 output positions.
			name: "float depthwise 0.25", model: prFloatDepthwise, sparsity: 0.25,
			want:        tflitetest.Float32Bytes([]float32{0.3, -0.2, 0.9, 0.1, -0.4, 0, 0.6, 0}),
			zerosBefore: 1, zerosAfter: 2, macs: 4 * 8, skip: 4 * 2,
		},
		{
			name: "sparsity 0 changes nothing", model: prInt8Conv, sparsity: 0,
			want:        tflitetest.Int8Bytes([]int8{10, -2, 5, 1, -3, 0}),
			zerosBefore: 1, zerosAfter: 1, macs: 96, skip: 16,
		},
		{
			name: "sparsity 1 zeroes all", model: prUint8FC, sparsity: 1,
			want:        bytes.Repeat([]byte{128}, 6),
			zerosBefore: 1, zerosAfter: 6, macs: 6, skip: 6,
		},
		{name: "sparsity above 1", model: prFloatFC, sparsity: 1.5, wantErr: true},
		{name: "negative sparsity", model: prFloatFC, sparsity: -0.1, wantErr: true},
	}
	oracle := ""
	if !testing.Short() {
		oracle = fpOracleDir(t)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.model(t)
			m, err := Read(orig)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Prune(m, tt.sparsity)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Prune(%g) error = %v; wantErr %v", tt.sparsity, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(res) != 1 {
				t.Fatalf("Prune(%g) reported %d tensors; want 1", tt.sparsity, len(res))
			}
			p := res[0]
			if p.Skipped != "" || p.ZerosBefore != tt.zerosBefore || p.ZerosAfter != tt.zerosAfter || p.MACs != tt.macs || p.SkippableMACs != tt.skip {
				t.Errorf("Prune(%g) = %+v; want zeros %d → %d, MACs %d, skippable %d", tt.sparsity, p, tt.zerosBefore, tt.zerosAfter, tt.macs, tt.skip)
			}
			got, err := Write(m)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if w := prWeights(t, got); !bytes.Equal(w, tt.want) {
				t.Errorf("pruned weights = %v; want %v", w, tt.want)
			}
			if w := prWeights(t, orig); tt.sparsity > 0 && bytes.Equal(w, tt.want) {
				t.Errorf("the input model's weights were changed in place")
			}
			// The pruned model runs in edged and in the oracle alike.
			ins, err := RandomInputs(got, 1, 11)
			if err != nil {
				t.Fatal(err)
			}
			ge := fpInvoke(t, got, ins[0][0])
			if oracle == "" {
				return
			}
			want := fpOracleRun(t, oracle, got, ins[0][0])
			if len(want) != len(ge) {
				t.Fatalf("edged output %d bytes; oracle %d", len(ge), len(want))
			}
			m2, _ := Read(got)
			switch m2.Subgraphs[0].Tensors[m2.Subgraphs[0].Outputs[0]].Type {
			case schema.TensorTypeFLOAT32:
				g, w := fpF32s(ge), fpF32s(want)
				for i := range w {
					if math.Abs(float64(g[i]-w[i])) > 1e-4+1e-4*math.Abs(float64(w[i])) {
						t.Errorf("output[%d] = %g; oracle %g", i, g[i], w[i])
					}
				}
			case schema.TensorTypeINT8:
				for i := range want {
					if d := int(int8(ge[i])) - int(int8(want[i])); d < -1 || d > 1 {
						t.Errorf("output[%d] = %d; oracle %d", i, int8(ge[i]), int8(want[i]))
					}
				}
			default:
				for i := range want {
					if d := int(ge[i]) - int(want[i]); d < -1 || d > 1 {
						t.Errorf("output[%d] = %d; oracle %d", i, ge[i], want[i])
					}
				}
			}
		})
	}
}

// TestPruneFloatOutput checks the pruned float layer by hand:
// x = [1 2 3 4]; y = [0.5·1 + 2·4 + 0.1, 1·3 - 0.7·4 - 0.2] = [8.6, 0].
func TestPruneFloatOutput(t *testing.T) {
	m, err := Read(prFloatFC(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prune(m, 0.5); err != nil {
		t.Fatal(err)
	}
	got, err := Write(m)
	if err != nil {
		t.Fatal(err)
	}
	y := fpF32s(fpInvoke(t, got, tflitetest.Float32Bytes([]float32{1, 2, 3, 4})))
	for i, want := range []float32{8.6, 0} {
		if math.Abs(float64(y[i]-want)) > 1e-5 {
			t.Errorf("Invoke(pruned) output[%d] = %g; want %g", i, y[i], want)
		}
	}
}

func TestSparsity(t *testing.T) {
	tests := []struct {
		name   string
		dt     tensor.DType
		data   []byte
		shape  []int
		q      *tensor.Quant
		want   int
		wantOK bool
	}{
		{"float", tensor.Float32, tflitetest.Float32Bytes([]float32{0, 1, float32(math.Copysign(0, -1)), 2}), []int{4}, nil, 2, true},
		{"int8 zero point", tensor.Int8, tflitetest.Int8Bytes([]int8{-3, 0, -3, 5}), []int{4}, prQuant([]float32{0.1}, []int32{-3}, 0), 2, true},
		// Per-channel on axis 0: rows have zero points 1 and 2.
		{"int8 per-channel", tensor.Int8, tflitetest.Int8Bytes([]int8{1, 2, 2, 1}), []int{2, 2}, prQuant([]float32{0.1, 0.1}, []int32{1, 2}, 0), 2, true},
		{"uint8", tensor.UInt8, []byte{128, 0, 128}, []int{3}, prQuant([]float32{1}, []int32{128}, 0), 2, true},
		{"int32 bias", tensor.Int32, tflitetest.Int32Bytes([]int32{0, 7, 0}), []int{3}, nil, 2, true},
		{"short data", tensor.Float32, []byte{0, 0}, []int{1}, nil, 0, false},
		{"bool", tensor.Bool, []byte{0, 1}, []int{2}, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, ok := Sparsity(tt.dt, tt.data, tt.shape, tt.q)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Sparsity(%s) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestPruneRandomLarge prunes a bigger int8 MLP and checks the share.
func TestPruneRandomLarge(t *testing.T) {
	model, err := tflitetest.Int8MLP(5, 32, 64, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Read(model)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Prune(m, 0.7)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res {
		// floor(0.7·2048) = 1433, floor(0.7·640) = 448, unless more were
		// zero already.
		want := int(math.Floor(0.7 * float64(p.Elements)))
		if p.ZerosAfter != max(want, p.ZerosBefore) {
			t.Errorf("Prune(0.7) %s: %d zeros of %d; want %d", p.Tensor, p.ZerosAfter, p.Elements, want)
		}
	}
	if _, err := Write(m); err != nil {
		t.Fatal(err)
	}
}

func TestPruneOps(t *testing.T) {
	tests := []struct {
		name    string
		ops     []string
		want    int // tensors pruned
		wantErr bool
	}{
		{name: "all", want: 1},
		{name: "depthwise named", ops: []string{"DEPTHWISE_CONV_2D"}, want: 1},
		{name: "conv only", ops: []string{"CONV_2D", "FULLY_CONNECTED"}, want: 0},
		{name: "unknown", ops: []string{"ADD"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Read(prFloatDepthwise(t))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Prune(m, 0.5, tt.ops...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Prune(ops %q) error = %v; wantErr %v", tt.ops, err, tt.wantErr)
			}
			if len(res) != tt.want {
				t.Errorf("Prune(ops %q) pruned %d tensors; want %d", tt.ops, len(res), tt.want)
			}
		})
	}
}
