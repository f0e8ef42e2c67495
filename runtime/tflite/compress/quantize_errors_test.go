package compress

import (
	"errors"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// expModel is a float model with one EXP operator, which has no int8
// rewrite.
func expModel(t *testing.T) []byte {
	t.Helper()
	f32 := func(name string) *schema.TensorT {
		return &schema.TensorT{Name: name, Shape: []int32{1, 4}, Type: schema.TensorTypeFLOAT32}
	}
	m := &schema.ModelT{
		Version:       3,
		OperatorCodes: []*schema.OperatorCodeT{{BuiltinCode: schema.BuiltinOperatorEXP, DeprecatedBuiltinCode: int8(schema.BuiltinOperatorEXP), Version: 1}},
		Subgraphs: []*schema.SubGraphT{{
			Tensors:   []*schema.TensorT{f32("x"), f32("exp_out")},
			Inputs:    []int32{0},
			Outputs:   []int32{1},
			Operators: []*schema.OperatorT{{OpcodeIndex: 0, Inputs: []int32{0}, Outputs: []int32{1}}},
		}},
		Buffers: []*schema.BufferT{{}},
	}
	b, err := Write(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestQuantizeErrors(t *testing.T) {
	hello := readModel(t, "hello_world_float")
	one := [][][]byte{{f32bytes(1)}}
	tests := []struct {
		name    string
		model   []byte
		samples [][][]byte
		opts    *QuantizeOptions
		wantErr error
		// wantMsg are substrings the message must hold for the operator.
		wantMsg []string
	}{
		{"int8 model", readModel(t, "hello_world_int8"), one, nil, ErrNotFloat, []string{"INT8"}},
		{"uint8 model", readModel(t, "mobilenet_v1_0.25_128_quant"), [][][]byte{{make([]byte, 128*128*3*4)}}, nil, ErrNotFloat, []string{"UINT8"}},
		{"no samples", hello, nil, nil, ErrNoSamples, nil},
		{"unsupported op", expModel(t), [][][]byte{{f32bytes(0, 1, -1, 2)}}, nil, ErrNoInt8Rewrite, []string{"EXP", `"exp_out"`}},
		{"wrong sample size", hello, [][][]byte{{f32bytes(1, 2)}}, nil, nil, []string{"8 bytes", "needs 4"}},
		{"bad io type", hello, one, &QuantizeOptions{IO: "int4"}, nil, []string{`"int4"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal, err := Calibrate(tt.model, tt.samples, nil)
			if err == nil {
				_, err = Quantize(tt.model, cal, tt.opts)
			}
			if err == nil {
				t.Fatalf("Calibrate+Quantize(%s) succeeded; want an error", tt.name)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Calibrate+Quantize(%s) = %v; want %v", tt.name, err, tt.wantErr)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Calibrate+Quantize(%s) = %q; want it to mention %s", tt.name, err, s)
				}
			}
		})
	}
}

// int8OpVersions are the versions tensorflow/lite/tools/versioning/
// op_version.cc gives the int8 forms of the operators in the shared float
// models (no bias, keep_num_dims or MUL rescale cases among them). The
// converter-written hello_world_int8 (FULLY_CONNECTED 4) and
// micro_speech_quantized (DEPTHWISE_CONV_2D 3, FULLY_CONNECTED 4, RESHAPE 1,
// SOFTMAX 2) agree.
var int8OpVersions = map[string]int32{
	"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "RELU": 2,
	"PAD": 2, "MAX_POOL_2D": 2, "CONCATENATION": 2, "RESHAPE": 1, "SOFTMAX": 2,
	"TANH": 2, "QUANTIZE": 1, "DEQUANTIZE": 2,
	// The ops of TestQuantizeKerasOps (op_version.cc): MEAN, SUM, SPLIT_V
	// and the shape ops give 2 for int8; LEAKY_RELU, HARD_SWISH and PRELU
	// keep 1 (no int8 case); RESIZE_BILINEAR with half_pixel_centers is 3;
	// TRANSPOSE_CONV with a bias is 3.
	"MEAN": 2, "SUM": 2, "LEAKY_RELU": 1, "HARD_SWISH": 1, "PRELU": 1,
	"RESIZE_BILINEAR": 3, "RESIZE_NEAREST_NEIGHBOR": 2, "TRANSPOSE_CONV": 3,
	"STRIDED_SLICE": 2, "SLICE": 2, "SPLIT": 2, "SPLIT_V": 2, "GATHER": 2,
	"PADV2": 2, "MAXIMUM": 2, "MINIMUM": 2, "PACK": 2, "UNPACK": 2,
	"BATCH_MATMUL": 2, "AVERAGE_POOL_2D": 2, "REDUCE_MAX": 2,
	"SQUARED_DIFFERENCE": 2, "RSQRT": 2, "SUB": 2, "MUL": 2,
}

// checkOpVersions compares every operator code of a quantized model with
// int8OpVersions.
func checkOpVersions(t *testing.T, model []byte) {
	t.Helper()
	checkOpVersionsWith(t, model, nil)
}

// checkOpVersionsWith is checkOpVersions with versions that a model's
// options raise (FULLY_CONNECTED with keep_num_dims is 5).
func checkOpVersionsWith(t *testing.T, model []byte, override map[string]int32) {
	t.Helper()
	m, err := Read(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range m.Subgraphs[0].Operators {
		c, _ := BuiltinCode(m, op)
		want, ok := int8OpVersions[c.String()]
		if v, o := override[c.String()]; o {
			want, ok = v, true
		}
		if !ok {
			t.Errorf("operator %s: no expected version in the table", c)
			continue
		}
		if got := m.OperatorCodes[op.OpcodeIndex].Version; got != want {
			t.Errorf("operator %s version = %d; want %d (op_version.cc)", c, got, want)
		}
	}
}

// TestQuantizeOpVersionsMatchConverter checks the table against the
// converter-written int8 models.
func TestQuantizeOpVersionsMatchConverter(t *testing.T) {
	for _, name := range []string{"hello_world_int8", "micro_speech_quantized"} {
		checkOpVersions(t, readModel(t, name))
	}
}

// TestFoldFloat16Refuses: a DEQUANTIZE that is not of a float16 constant
// (here a run-time float16 tensor) is refused, naming the tensors.
func TestFoldFloat16Refuses(t *testing.T) {
	m := &schema.ModelT{
		OperatorCodes: []*schema.OperatorCodeT{{BuiltinCode: schema.BuiltinOperatorDEQUANTIZE, DeprecatedBuiltinCode: int8(schema.BuiltinOperatorDEQUANTIZE), Version: 3}},
		Subgraphs: []*schema.SubGraphT{{
			Tensors: []*schema.TensorT{
				{Name: "h", Shape: []int32{4}, Type: schema.TensorTypeFLOAT16},
				{Name: "f", Shape: []int32{4}, Type: schema.TensorTypeFLOAT32},
			},
			Operators: []*schema.OperatorT{{OpcodeIndex: 0, Inputs: []int32{0}, Outputs: []int32{1}}},
		}},
		Buffers: []*schema.BufferT{{}},
	}
	err := foldFloat16(m)
	if !errors.Is(err, ErrNoInt8Rewrite) {
		t.Fatalf("foldFloat16(run-time float16) = %v; want %v", err, ErrNoInt8Rewrite)
	}
	for _, s := range []string{`"h"`, `"f"`, "run-time FLOAT16"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("foldFloat16 = %q; want it to mention %s", err, s)
		}
	}
}
