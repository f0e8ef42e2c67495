package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// FullyConnectedParams are FULLY_CONNECTED's options.
type FullyConnectedParams struct {
	Activation  Activation
	KeepNumDims bool
}

// FullyConnected computes out = act(in · filterᵀ + bias) with filter of
// shape [units, depth]; in is read as [batch, depth]. bias may be nil.
func FullyConnected(cfg *Config, p FullyConnectedParams, in, filter, bias, out *tensor.Tensor) (Kernel, error) {
	if filter.Rank() != 2 {
		return nil, fmt.Errorf("filter %q has shape %v; want rank 2", filter.Name, filter.Shape)
	}
	units, depth := filter.Shape[0], filter.Shape[1]
	if depth == 0 || in.NumElements()%depth != 0 {
		return nil, fmt.Errorf("input %q shape %v does not divide into rows of filter depth %d", in.Name, in.Shape, depth)
	}
	batch := in.NumElements() / depth
	if bias != nil && bias.NumElements() != units {
		return nil, fmt.Errorf("bias %q has %d elements; want %d", bias.Name, bias.NumElements(), units)
	}
	if p.KeepNumDims {
		out.Shape = append(append(out.Shape[:0], in.Shape[:in.Rank()-1]...), units)
	} else {
		out.Shape = append(out.Shape[:0], batch, units)
	}
	switch in.Type {
	case tensor.Float32:
		return fullyConnectedFloat(p, in, filter, bias, out, batch, units, depth)
	case tensor.Int8, tensor.UInt8:
		return fullyConnectedQuant(cfg, p, in, filter, bias, out, batch, units, depth)
	}
	return nil, unsupportedf("FULLY_CONNECTED on %s input", in.Type)
}

func fullyConnectedFloat(p FullyConnectedParams, in, filter, bias, out *tensor.Tensor, batch, units, depth int) (Kernel, error) {
	if err := CheckType("filter", filter, tensor.Float32); err != nil {
		return nil, err
	}
	if err := CheckType("output", out, tensor.Float32); err != nil {
		return nil, err
	}
	if bias != nil {
		if err := CheckType("bias", bias, tensor.Float32); err != nil {
			return nil, err
		}
	}
	lo, hi, err := FloatActivationRange(p.Activation)
	if err != nil {
		return nil, err
	}
	return Func(func() error {
		x, w, y := in.Float32s(), filter.Float32s(), out.Float32s()
		var b []float32
		if bias != nil {
			b = bias.Float32s()
		}
		for bi := 0; bi < batch; bi++ {
			row := x[bi*depth : bi*depth+depth]
			for u := 0; u < units; u++ {
				wr := w[u*depth : u*depth+depth]
				var acc float32
				for d, v := range row {
					acc += v * wr[d]
				}
				if b != nil {
					acc += b[u]
				}
				y[bi*units+u] = ClampF(acc, lo, hi)
			}
		}
		return nil
	}), nil
}

func fullyConnectedQuant(cfg *Config, p FullyConnectedParams, in, filter, bias, out *tensor.Tensor, batch, units, depth int) (Kernel, error) {
	if cfg.Arithmetic != Reference {
		return nil, unsupportedf("%s arithmetic", cfg.Arithmetic)
	}
	if err := CheckType("filter", filter, in.Type); err != nil {
		return nil, err
	}
	if err := CheckType("output", out, in.Type); err != nil {
		return nil, err
	}
	for _, t := range []*tensor.Tensor{in, filter, out} {
		if err := CheckQuantized("operand", t); err != nil {
			return nil, err
		}
	}
	if bias != nil {
		if err := CheckType("bias", bias, tensor.Int32); err != nil {
			return nil, err
		}
	}
	lo, hi, err := QuantizedActivationRange(p.Activation, out)
	if err != nil {
		return nil, err
	}
	mult, shift, err := ChannelMultipliers(in, filter, out, units)
	if err != nil {
		return nil, err
	}
	inOff, outOff := -in.ZeroPoint(), out.ZeroPoint()
	filterOff := -filter.ZeroPoint()
	if in.Type == tensor.Int8 && filterOff != 0 {
		return nil, fmt.Errorf("int8 filter %q has zero point %d; want 0", filter.Name, -filterOff)
	}
	return Func(func() error {
		var b []int32
		if bias != nil {
			b = bias.Int32s()
		}
		if in.Type == tensor.Int8 {
			x, w, y := in.Int8s(), filter.Int8s(), out.Int8s()
			for bi := 0; bi < batch; bi++ {
				row := x[bi*depth : bi*depth+depth]
				for u := 0; u < units; u++ {
					wr := w[u*depth : u*depth+depth]
					var acc int32
					for d, v := range row {
						acc += (int32(wr[d]) + filterOff) * (int32(v) + inOff)
					}
					if b != nil {
						acc += b[u]
					}
					acc = MultiplyByQuantizedMultiplier(acc, mult[u], shift[u]) + outOff
					y[bi*units+u] = int8(Clamp(acc, lo, hi))
				}
			}
			return nil
		}
		x, w, y := in.UInt8s(), filter.UInt8s(), out.UInt8s()
		for bi := 0; bi < batch; bi++ {
			row := x[bi*depth : bi*depth+depth]
			for u := 0; u < units; u++ {
				wr := w[u*depth : u*depth+depth]
				var acc int32
				for d, v := range row {
					acc += (int32(wr[d]) + filterOff) * (int32(v) + inOff)
				}
				if b != nil {
					acc += b[u]
				}
				acc = MultiplyByQuantizedMultiplier(acc, mult[u], shift[u]) + outOff
				y[bi*units+u] = uint8(Clamp(acc, lo, hi))
			}
		}
		return nil
	}), nil
}

// ChannelMultipliers computes the fixed-point output multiplier of each of
// n output channels, as TFLite's PopulateConvolutionQuantizationParams:
// in_scale * filter_scale[c] / out_scale in double precision, per-tensor
// filter scales broadcast.
func ChannelMultipliers(in, filter, out *tensor.Tensor, n int) (mult []int32, shift []int, err error) {
	fs := filter.Quant.Scale
	if len(fs) != 1 && len(fs) != n {
		return nil, nil, fmt.Errorf("filter %q has %d scales; want 1 or %d", filter.Name, len(fs), n)
	}
	mult, shift = make([]int32, n), make([]int, n)
	for c := 0; c < n; c++ {
		s := fs[0]
		if len(fs) > 1 {
			s = fs[c]
		}
		real := float64(in.Scale()) * float64(s) / float64(out.Scale())
		mult[c], shift[c] = QuantizeMultiplier(real)
	}
	return mult, shift, nil
}
