package compress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// TestQuantizeDynamicOracle quantizes every weight of BlazeFace
// (face_detection_front: float CONV_2D and DEPTHWISE_CONV_2D) to dynamic
// range and runs it in edged and in the oracle on the golden inputs: in
// LiteRT arithmetic the float outputs are bit-identical. (With the
// default 1024-element threshold, small convolutions stay float and
// their last-bit differences from XNNPACK's float kernels can move the
// next layer's dynamic quantization; see the package notes.)
func TestQuantizeDynamicOracle(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "testdata", "models", "face_detection_front.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	q, rep, err := QuantizeDynamic(data, &DynamicOptions{MinElements: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Quantized) == 0 || rep.Int8Bytes*4 != rep.FloatBytes {
		t.Errorf("report %+v: want int8 weights a quarter of the float ones", rep)
	}
	var samples [][][]byte
	for _, c := range []string{"random_0", "random_1"} {
		in, err := os.ReadFile(filepath.Join(root, "testdata", "golden", "face_detection_front", c, "input_0.bin"))
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, [][]byte{in})
	}
	want := runOracle(t, q, samples, 2)
	got := runEdged(t, q, samples, tflite.LiteRT)
	for s := range samples {
		for k := range want[s] {
			if !bytes.Equal(got[s][k], want[s][k]) {
				t.Errorf("sample %d output %d: edged (LiteRT) differs from the oracle", s, k)
			}
		}
	}
}

// TestQuantizeDynamicRewrite checks the rewrite of the Iris MLP (two
// FULLY_CONNECTED of 4×16 and 16×3 weights): sizes, types, scales,
// versions and the asymmetric-input option.
func TestQuantizeDynamicRewrite(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "models", "iris.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := QuantizeDynamic(data, nil); err == nil || !strings.Contains(err.Error(), "1024") {
		t.Errorf("default options on 64- and 48-element weights: err %v; want none quantized below 1024 elements", err)
	}
	for _, opts := range []DynamicOptions{{}, {PerChannelFC: true}, {AsymmetricInputs: true}} {
		q, rep, err := QuantizeDynamic(data, &opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Quantized) != 2 || rep.FloatBytes != 4*(64+48) || rep.Int8Bytes != 64+48 {
			t.Errorf("%+v: report %+v; want 2 tensors, 448 -> 112 bytes", opts, rep)
		}
		m := schema.GetRootAsModel(q, 0).UnPack()
		sg := m.Subgraphs[0]
		for _, op := range sg.Operators {
			code, _ := BuiltinCode(m, op)
			if code != schema.BuiltinOperatorFULLY_CONNECTED {
				continue
			}
			w := sg.Tensors[op.Inputs[1]]
			units := int(w.Shape[0])
			wantScales, wantVersion := 1, int32(3)
			if opts.PerChannelFC {
				wantScales = units
			}
			if opts.AsymmetricInputs {
				wantVersion = 9
			}
			if w.Type != schema.TensorTypeINT8 || len(w.Quantization.Scale) != wantScales {
				t.Errorf("%+v: weights %q %s with %d scales; want int8 with %d", opts, w.Name, w.Type, len(w.Quantization.Scale), wantScales)
			}
			if v := m.OperatorCodes[op.OpcodeIndex].Version; v != wantVersion {
				t.Errorf("%+v: FULLY_CONNECTED version %d; want %d", opts, v, wantVersion)
			}
			fo, _ := op.BuiltinOptions.Value.(*schema.FullyConnectedOptionsT)
			if asym := fo != nil && fo.AsymmetricQuantizeInputs; asym != opts.AsymmetricInputs {
				t.Errorf("%+v: asymmetric_quantize_inputs %v", opts, asym)
			}
			if b := sg.Tensors[op.Inputs[2]]; b.Type != schema.TensorTypeFLOAT32 {
				t.Errorf("%+v: bias %q is %s; want float32", opts, b.Name, b.Type)
			}
		}
		if _, err := tflite.Load(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := QuantizeDynamic([]byte("not a model"), &DynamicOptions{}); err == nil {
		t.Error("QuantizeDynamic of garbage succeeded")
	}
}
