package main

import (
	"encoding/binary"
	"fmt"
	"math"
)

// tensorBytes is one tensor's raw little-endian content.
type tensorBytes struct {
	DType string
	Shape []int
	Data  []byte
}

// Float tolerance: |got - want| <= floatAbs + floatRel*|want|. The oracle's
// own float results move by up to 6.1e-5 between its Wasm builds (FMA
// contraction), so exact float equality is not expected.
const (
	floatAbs = 1e-4
	floatRel = 1e-4
)

// cmp is how one edged output compares with the oracle's.
type cmp struct {
	DType  string  `json:"dtype"`
	N      int     `json:"elements"`
	Exact  bool    `json:"byte_identical"`
	Diff   int     `json:"differing"`        // elements not bit-identical
	Bad    int     `json:"out_of_tolerance"` // float: beyond the tolerance; other types: = Diff
	MaxAbs float64 `json:"max_abs"`
	MaxRel float64 `json:"max_rel"` // over elements where the oracle's value is not 0
	// NonFinite counts elements where exactly one side is NaN or ±Inf,
	// or both are infinite with different signs.
	NonFinite int    `json:"non_finite,omitempty"`
	Top1      string `json:"top1,omitempty"` // "same", "differs" or "" (not a score vector)
	Mismatch  string `json:"mismatch,omitempty"`
}

// ok is true when the output meets the check: quantized and integer
// outputs byte-identical, float outputs within the tolerance.
func (c *cmp) ok() bool { return c.Mismatch == "" && c.Bad == 0 }

func (c *cmp) float() bool {
	return c.DType == "float32" || c.DType == "float16" || c.DType == "complex64" || c.DType == "float64"
}

// compare checks got against want (the oracle's).
func compare(want, got tensorBytes) cmp {
	c := cmp{DType: want.DType}
	if got.DType != want.DType {
		c.Mismatch = fmt.Sprintf("type %s, oracle %s", got.DType, want.DType)
		return c
	}
	if len(got.Data) != len(want.Data) {
		c.Mismatch = fmt.Sprintf("shape %v, oracle %v", got.Shape, want.Shape)
		return c
	}
	w, okW := values(want)
	g, _ := values(got)
	if !okW {
		c.Mismatch = "cannot compare " + want.DType
		return c
	}
	c.N = len(w)
	for i := range w {
		a, b := g[i], w[i]
		same := a == b || (math.IsNaN(a) && math.IsNaN(b))
		if same {
			continue
		}
		c.Diff++
		d := math.Abs(a - b)
		if math.IsNaN(d) || math.IsInf(d, 0) {
			c.NonFinite++
			c.Bad++
			continue
		}
		c.MaxAbs = math.Max(c.MaxAbs, d)
		if b != 0 {
			c.MaxRel = math.Max(c.MaxRel, d/math.Abs(b))
		}
		if !c.float() || d > floatAbs+floatRel*math.Abs(b) {
			c.Bad++
		}
	}
	c.Exact = c.Diff == 0
	if isScoreVector(want.Shape) {
		if argmax(w) == argmax(g) {
			c.Top1 = "same"
		} else {
			c.Top1 = "differs"
		}
	}
	return c
}

// isScoreVector: one row of at least 10 classes ([N], [1,N], [1,1,N]…).
func isScoreVector(shape []int) bool {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return len(shape) > 0 && shape[len(shape)-1] == n && n >= 10
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// values decodes raw tensor bytes as float64 (complex64: real and
// imaginary parts in turn).
func values(t tensorBytes) ([]float64, bool) {
	b := t.Data
	var out []float64
	switch t.DType {
	case "float32", "complex64":
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
	case "float64":
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
	case "float16":
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, float16Value(binary.LittleEndian.Uint16(b[i:])))
		}
	case "int8":
		for _, x := range b {
			out = append(out, float64(int8(x)))
		}
	case "uint8", "bool":
		for _, x := range b {
			out = append(out, float64(x))
		}
	case "int16":
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, float64(int16(binary.LittleEndian.Uint16(b[i:]))))
		}
	case "uint16":
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, float64(binary.LittleEndian.Uint16(b[i:])))
		}
	case "int32":
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(int32(binary.LittleEndian.Uint32(b[i:]))))
		}
	case "uint32":
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(binary.LittleEndian.Uint32(b[i:])))
		}
	case "int64":
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, float64(int64(binary.LittleEndian.Uint64(b[i:]))))
		}
	default:
		return nil, false
	}
	return out, true
}
