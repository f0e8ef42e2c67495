package tflite

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TestDilatedConvResize resizes dilated_conv.tflite, whose SPACE_TO_BATCH_ND
// paddings and BATCH_TO_SPACE_ND crops are computed from the input's SHAPE,
// to other spatial sizes and checks the output against a dilated 3×3 SAME
// convolution computed here in float64 from the model's weights: the
// graph TensorFlow writes for tf.nn.conv2d(..., dilations=6,
// padding="SAME") plus the bias ADD after it.
func TestDilatedConvResize(t *testing.T) {
	m, err := LoadFile(filepath.Join(modelsDir, "dilated_conv.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	sg := m.Subgraphs[0]
	// Operator 21 is the CONV_2D (weights, bias) and operator 24 the ADD
	// of the second bias; operator 20's block shape is the dilation.
	conv, add, s2b := &sg.Operators[21], &sg.Operators[24], &sg.Operators[20]
	if m.OpName(conv) != "CONV_2D" || m.OpName(add) != "ADD" || m.OpName(s2b) != "SPACE_TO_BATCH_ND" {
		t.Fatalf("unexpected graph: operators 20, 21, 24 are %s, %s, %s", m.OpName(s2b), m.OpName(conv), m.OpName(add))
	}
	w := tensorFloats(t, &sg.Tensors[conv.Inputs[1]])
	b1 := tensorFloats(t, &sg.Tensors[conv.Inputs[2]])
	b2 := tensorFloats(t, &sg.Tensors[add.Inputs[1]])
	block := sg.Tensors[s2b.Inputs[1]].Data
	dil := int(int32(uint32(block[0]) | uint32(block[1])<<8 | uint32(block[2])<<16 | uint32(block[3])<<24))
	if dil < 2 {
		t.Fatalf("block shape starts with %d; want a dilation", dil)
	}
	const cin, cout, k = 3, 16, 3
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range [][]int{{1, 1, 1, 3}, {1, 5, 7, 3}, {2, 8, 13, 3}, {1, 14, 10, 3}} {
		if err := it.ResizeInput(0, s); err != nil {
			t.Fatalf("ResizeInput(%v): %v", s, err)
		}
		in := it.Input(0).Float32s()
		for i := range in {
			in[i] = float32(r.Float64()*2 - 1)
		}
		if err := it.Invoke(); err != nil {
			t.Fatalf("%v: Invoke: %v", s, err)
		}
		o := it.Output(0)
		if want := []int{s[0], s[1], s[2], cout}; !tensor.SameShape(o.Shape, want) {
			t.Fatalf("%v: output shape %v; want %v", s, o.Shape, want)
		}
		got := o.Float32s()
		n, h, wd := s[0], s[1], s[2]
		for b := 0; b < n; b++ {
			for y := 0; y < h; y++ {
				for x := 0; x < wd; x++ {
					for oc := 0; oc < cout; oc++ {
						sum := float64(b1[oc]) + float64(b2[oc])
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := y+(ky-1)*dil, x+(kx-1)*dil
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								for c := 0; c < cin; c++ {
									sum += float64(in[((b*h+iy)*wd+ix)*cin+c]) * float64(w[((oc*k+ky)*k+kx)*cin+c])
								}
							}
						}
						g := got[((b*h+y)*wd+x)*cout+oc]
						if math.Abs(float64(g)-sum) > 1e-5+1e-5*math.Abs(sum) {
							t.Fatalf("%v: out[%d,%d,%d,%d] = %g; want %g", s, b, y, x, oc, g, sum)
						}
					}
				}
			}
		}
	}
}

func tensorFloats(t *testing.T, ti *TensorInfo) []float32 {
	t.Helper()
	if ti.Type != tensor.Float32 || ti.Data == nil {
		t.Fatalf("tensor %q: want constant float32, have %s", ti.Name, ti.Type)
	}
	tt := tensor.Tensor{Type: ti.Type, Shape: ti.Shape, Data: ti.Data}
	return tt.Float32s()
}
