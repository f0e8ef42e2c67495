package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// RNNParams are the options of RNN and UNIDIRECTIONAL_SEQUENCE_RNN.
type RNNParams struct {
	Activation Activation
	// Sequence: the input is [batch, time, input] ([time, batch, input]
	// when TimeMajor); otherwise one step of [batch, input].
	Sequence, TimeMajor bool
}

// RNN is a fully connected recurrent layer, float32: each step computes
// h = act(W·x + R·h + b) as TFLite's RnnBatchStep does (the output starts
// from the bias, then adds the input and recurrent products, each summed
// from zero), and outputs h. state is the hidden state, a variable tensor
// of [batch, units] that carries over to the next Eval.
func RNN(cfg *Config, p RNNParams, in, w, r, bias, state, out *tensor.Tensor) (Kernel, error) {
	for _, t := range []*tensor.Tensor{in, w, r, bias, state, out} {
		if err := CheckType("RNN operand", t, tensor.Float32); err != nil {
			return nil, unsupportedf("RNN with %s operand %q (only float32)", t.Type, t.Name)
		}
	}
	if w.Rank() != 2 || r.Rank() != 2 || bias.Rank() != 1 {
		return nil, fmt.Errorf("weights %v, recurrent weights %v and bias %v: want rank 2, 2 and 1", w.Shape, r.Shape, bias.Shape)
	}
	units, nIn := w.Shape[0], w.Shape[1]
	s := lstmShape{nIn: nIn, nCell: units, nOut: units, timeMajor: p.TimeMajor, time: 1}
	if p.Sequence {
		if in.Rank() != 3 {
			return nil, fmt.Errorf("input %v: want rank 3", in.Shape)
		}
		if p.TimeMajor {
			s.time, s.batch = in.Shape[0], in.Shape[1]
		} else {
			s.batch, s.time = in.Shape[0], in.Shape[1]
		}
		if in.Shape[2] != nIn {
			return nil, fmt.Errorf("input %v does not match weights %v", in.Shape, w.Shape)
		}
	} else {
		if in.Rank() != 2 || in.Shape[1] != nIn {
			return nil, fmt.Errorf("input %v does not match weights %v", in.Shape, w.Shape)
		}
		s.batch, s.timeMajor = in.Shape[0], true
	}
	if s.batch < 1 || s.time < 1 || units < 1 || nIn < 1 {
		return nil, fmt.Errorf("empty RNN: input %v, weights %v", in.Shape, w.Shape)
	}
	if r.Shape[0] != units || r.Shape[1] != units || bias.Shape[0] != units {
		return nil, fmt.Errorf("recurrent weights %v and bias %v: want [%d %d] and [%d]", r.Shape, bias.Shape, units, units, units)
	}
	if state.NumElements() != s.batch*units {
		return nil, fmt.Errorf("hidden state %q has %d elements; want batch %d × units %d", state.Name, state.NumElements(), s.batch, units)
	}
	for _, t := range []*tensor.Tensor{w, r, bias} {
		if !t.Const {
			return nil, unsupportedf("RNN weights %q are computed at run time; only constant weights are supported", t.Name)
		}
	}
	act, err := lstmFloatActivation(p.Activation)
	if err != nil {
		return nil, err
	}
	switch {
	case !p.Sequence:
		out.Shape = append(out.Shape[:0], s.batch, units)
	case p.TimeMajor:
		out.Shape = append(out.Shape[:0], s.time, s.batch, units)
	default:
		out.Shape = append(out.Shape[:0], s.batch, s.time, units)
	}
	wv, rv, bv := w.Float32s(), r.Float32s(), bias.Float32s()
	return Func(func() error {
		x, y, h := in.Float32s(), out.Float32s(), state.Float32s()
		lstmSteps(&s, func(xOff, yOff, hOff, _, nb int) {
			ys, hs := y[yOff:yOff+nb*units], h[hOff:hOff+nb*units]
			for b := 0; b < nb; b++ {
				copy(ys[b*units:(b+1)*units], bv)
			}
			floatMatVecAcc(wv, units, nIn, x[xOff:xOff+nb*nIn], nb, ys)
			floatMatVecAcc(rv, units, units, hs, nb, ys)
			for i, v := range ys {
				ys[i] = act(v)
			}
			copy(hs, ys)
		})
		return nil
	}), nil
}
