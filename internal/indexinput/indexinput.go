// Package indexinput tells which inputs of a model are indices into a
// tensor — the indices of GATHER, GATHER_ND or EMBEDDING_LOOKUP, directly
// or through RESHAPE, SQUEEZE, EXPAND_DIMS, CAST or as a value a SELECT
// chooses — and the size of the
// dimension they index, so that generated inputs (benchmarks, the zoo
// check) stay within it: a random int32 token id fails the model.
package indexinput

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tflite"
)

// Range returns the size n of the dimension tensor t of m's first
// subgraph indexes, and which operator says so; 0 and "" when t is not
// used as indices (or m is nil). Indices in [0, n) are valid.
func Range(m *tflite.Model, t int) (n int, why string) {
	if m == nil || len(m.Subgraphs) == 0 {
		return 0, ""
	}
	sg := m.Subgraphs[0]
	if t < 0 || t >= len(sg.Tensors) {
		return 0, ""
	}
	seen := map[int]bool{}
	var walk func(t int) (int, string)
	walk = func(t int) (int, string) {
		if seen[t] {
			return 0, ""
		}
		seen[t] = true
		for oi := range sg.Operators {
			op := &sg.Operators[oi]
			name := m.OpName(op)
			for pos, in := range op.Inputs {
				if in != t {
					continue
				}
				shapeOf := func(k int) []int {
					if k >= len(op.Inputs) || op.Inputs[k] < 0 {
						return nil
					}
					return sg.Tensors[op.Inputs[k]].Shape
				}
				switch {
				case name == "GATHER" && pos == 1:
					if p := shapeOf(0); len(p) > 0 && p[0] > 0 {
						return p[0], fmt.Sprintf("GATHER operator %d", oi)
					}
				case name == "EMBEDDING_LOOKUP" && pos == 0:
					if p := shapeOf(1); len(p) > 0 && p[0] > 0 {
						return p[0], fmt.Sprintf("EMBEDDING_LOOKUP operator %d", oi)
					}
				case name == "GATHER_ND" && pos == 1:
					// The last dimension of the indices says how many of
					// the params' leading dimensions each index names; the
					// smallest of them bounds every component.
					p, ix := shapeOf(0), sg.Tensors[t].Shape
					if len(ix) > 0 && ix[len(ix)-1] > 0 && len(p) >= ix[len(ix)-1] {
						lo := 0
						for _, d := range p[:ix[len(ix)-1]] {
							if lo == 0 || d < lo {
								lo = d
							}
						}
						if lo > 0 {
							return lo, fmt.Sprintf("GATHER_ND operator %d", oi)
						}
					}
				case passesOn(name, pos) && len(op.Outputs) == 1:
					if n, why := walk(op.Outputs[0]); n > 0 {
						return n, why
					}
				}
			}
		}
		return 0, ""
	}
	return walk(t)
}

// passesOn reports whether the values of input pos of an operator name
// reach its output unchanged: the data of a RESHAPE, SQUEEZE,
// EXPAND_DIMS or CAST, and the values a SELECT chooses from (exporters
// wrap negative ids with select(ids < 0, ids + n, ids)).
func passesOn(name string, pos int) bool {
	switch name {
	case "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CAST":
		return pos == 0
	case "SELECT", "SELECT_V2":
		return pos > 0
	}
	return false
}
