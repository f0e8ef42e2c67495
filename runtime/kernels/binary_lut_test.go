package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// The tabulated 8-bit binary operators (binary8.go) must give, for every
// pair of input bytes, what the per-element arithmetic gives (which the
// hand-worked cases of TestBinaryQuant and the oracle's differential tests
// pin down): all 65 536 pairs, random scales, zero points and
// activations, both types, both arithmetics, ADD, SUB, MUL, DIV,
// SQUARED_DIFFERENCE and PRELU, in every run form: same shape, a
// per-channel row of b (joined runs), b fixed per row, a scalar b or a
// (constant or not).
func TestBinary8TableMatchesPerElement(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	defer func(v int) { lutMinElems = v }(lutMinElems)
	type form struct {
		name           string
		shapeA, shapeB []int
		constScalar    bool
	}
	forms := []form{
		{"same", []int{256, 256}, []int{256, 256}, false},
		{"row of b", []int{256, 256}, []int{1, 256}, false},
		{"b per row", []int{256, 256}, []int{256, 1}, false},
		{"scalar b", []int{256, 256}, []int{1}, false},
		{"constant scalar b", []int{256, 256}, []int{1}, true},
		{"scalar a", []int{1}, []int{256, 256}, false},
		{"constant scalar a", []int{1}, []int{256, 256}, true},
	}
	ops := []string{"ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "PRELU"}
	for i := range 2 * len(ops) * len(forms) {
		op := ops[i%len(ops)]
		f := forms[(i/len(ops))%len(forms)]
		arith := []Arithmetic{Reference, LiteRT}[(i/len(ops)/len(forms))%2]
		typ := []tensor.DType{tensor.Int8, tensor.UInt8}[r.IntN(2)]
		if op == "SQUARED_DIFFERENCE" {
			typ, arith = tensor.Int8, Reference
		}
		if op == "PRELU" && f.shapeA[0] == 1 {
			continue // alpha broadcasts to the input, not the other way
		}
		act := []Activation{ActNone, ActRelu, ActRelu6, ActReluN1To1}[r.IntN(4)]
		if op == "SQUARED_DIFFERENCE" || op == "PRELU" {
			act = ActNone
		}
		lo, hi, _ := TypeRange(typ)
		q := func(s float64) *tensor.Quant {
			return binQ(float32(s), lo+r.Int32N(hi-lo+1))
		}
		qa, qb, qo := q(0.001+r.Float64()*0.2), q(0.001+r.Float64()*0.2), q(0.001+r.Float64()*0.2)
		if op == "MUL" || op == "PRELU" {
			qo = q(0.001 + r.Float64()*0.02)
		}
		// Every pair of bytes: a's byte is the high one.
		xs, ys := make([]byte, 1<<16), make([]byte, 1<<16)
		for j := range xs {
			xs[j], ys[j] = byte(j>>8), byte(j)
		}
		switch {
		case f.shapeB[0] == 1 && len(f.shapeB) == 2:
			ys = ys[:256]
		case len(f.shapeB) == 2 && f.shapeB[1] == 1:
			// a[row][col] = col, b[row] = row.
			for j := range xs {
				xs[j] = byte(j)
			}
			ys = ys[:256]
			for j := range ys {
				ys[j] = byte(j)
			}
		case f.shapeB[0] == 1:
			ys = []byte{byte(r.IntN(256))}
		case f.shapeA[0] == 1:
			xs = []byte{byte(r.IntN(256))}
		}
		if op == "DIV" {
			// No divisor at its zero point (Eval fails there).
			ys = append([]byte(nil), ys...)
			for j, v := range ys {
				if int32(v) == qb.ZeroPoint[0]&0xff {
					ys[j] = v + 1
				}
			}
		}
		run := func(min int) []byte {
			lutMinElems = min
			a := &tensor.Tensor{Name: "a", Type: typ, Shape: f.shapeA, Quant: qa, Data: xs, Const: f.constScalar && f.shapeA[0] == 1}
			b := &tensor.Tensor{Name: "b", Type: typ, Shape: f.shapeB, Quant: qb, Data: ys, Const: f.constScalar && f.shapeB[0] == 1}
			o := &tensor.Tensor{Name: "o", Type: typ, Quant: qo}
			if min > 1<<20 {
				// The per-element reference: no constant operand.
				a.Const, b.Const = false, false
			}
			cfg := &Config{Arithmetic: arith}
			var k Kernel
			var err error
			switch op {
			case "PRELU":
				k, err = Prelu(cfg, a, b, o)
			default:
				bop := map[string]BinaryOp{"ADD": OpAdd, "SUB": OpSub, "MUL": OpMul, "DIV": OpDiv, "SQUARED_DIFFERENCE": OpSquaredDifference}[op]
				k, err = Binary(cfg, bop, BinaryParams{Activation: act}, a, b, o)
			}
			if err != nil {
				t.Fatalf("%s %s: %v", op, arith, err)
			}
			o.Data = make([]byte, o.NumBytes())
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
			return o.Data
		}
		name := fmt.Sprintf("%s %s %s %s act %d a %v b %v out %v", op, f.name, typ, arith, act, *qa, *qb, *qo)
		want, got := run(1<<30), run(0)
		for j := range want {
			if got[j] != want[j] {
				t.Errorf("%s: element %d: table %d; per-element %d", name, j, got[j], want[j])
				break
			}
		}
	}
}
