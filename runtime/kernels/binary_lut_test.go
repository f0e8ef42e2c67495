package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The tabulated ADD/SUB must give, for every pair of input bytes, what the
// per-element requantization gives (which the hand-worked cases of
// TestBinaryQuant and the oracle's differential tests pin down): all
// 65 536 pairs, random scales, zero points, activations, both types, ADD
// and SUB, same-shape and broadcast.
func TestAddSubLUTMatchesPerElement(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	defer func(v int) { lutMinElems = v }(lutMinElems)
	for i := range 24 {
		typ := []tensor.DType{tensor.Int8, tensor.UInt8}[i%2]
		op := []BinaryOp{OpAdd, OpSub}[(i/2)%2]
		act := []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[(i/4)%4]
		lo, hi, _ := TypeRange(typ)
		q := func() *tensor.Quant {
			return binQ(float32(0.001+r.Float64()*0.2), lo+r.Int32N(hi-lo+1))
		}
		qa, qb, qo := q(), q(), q()
		xs, ys := make([]byte, 1<<16), make([]byte, 1<<16)
		for j := range xs {
			xs[j], ys[j] = byte(j>>8), byte(j)
		}
		bcast := i%3 == 2 // b is one row of 256 values, broadcast over a
		shapeB := []int{256, 256}
		if bcast {
			shapeB = []int{1, 256}
			ys = ys[:256]
		}
		run := func(min int) []byte {
			lutMinElems = min
			a := &tensor.Tensor{Name: "a", Type: typ, Shape: []int{256, 256}, Quant: qa, Data: xs}
			b := &tensor.Tensor{Name: "b", Type: typ, Shape: shapeB, Quant: qb, Data: ys}
			o := &tensor.Tensor{Name: "o", Type: typ, Quant: qo}
			k, err := Binary(&Config{}, op, BinaryParams{Activation: act}, a, b, o)
			if err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			o.Data = make([]byte, o.NumBytes())
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			return o.Data
		}
		name := fmt.Sprintf("%s %s act %d a %v b %v out %v broadcast %v", op, typ, act, *qa, *qb, *qo, bcast)
		want, got := run(1<<30), run(0)
		for j := range want {
			if got[j] != want[j] {
				t.Errorf("%s: element %d (a byte %d, b byte %d): table %d; per-element %d", name, j, j>>8, j&255, got[j], want[j])
				break
			}
		}
	}
}
