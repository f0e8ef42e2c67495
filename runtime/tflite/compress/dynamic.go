package compress

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// DynamicOptions configure QuantizeDynamic. The zero value (or nil)
// quantizes every eligible weight tensor of at least 1024 elements, per
// channel for CONV_2D and DEPTHWISE_CONV_2D and per tensor for
// FULLY_CONNECTED, as TFLite's converter does.
type DynamicOptions struct {
	// MinElements leaves smaller weight tensors in float32; < 0 means
	// the default, 1024; 0 quantizes every size.
	MinElements int
	// PerChannelFC gives FULLY_CONNECTED weights one scale per output unit.
	PerChannelFC bool
	// AsymmetricInputs sets FULLY_CONNECTED's asymmetric_quantize_inputs.
	AsymmetricInputs bool
}

// DynamicReport says what QuantizeDynamic changed.
type DynamicReport struct {
	// Quantized lists the weight tensors made int8, Kept the eligible
	// ones left in float32 (too small, shared with another use).
	Quantized, Kept []string
	// FloatBytes and Int8Bytes are the weights' sizes before and after.
	FloatBytes, Int8Bytes int
}

// hybridVersions are the operator versions TFLite's op_version.cc gives
// the hybrid forms (float input, int8 weights): per-tensor / per-channel
// weights, and FULLY_CONNECTED with asymmetric input quantization.
var hybridVersions = map[schema.BuiltinOperator][2]int32{
	schema.BuiltinOperatorFULLY_CONNECTED:   {3, 3},
	schema.BuiltinOperatorCONV_2D:           {2, 5},
	schema.BuiltinOperatorDEPTHWISE_CONV_2D: {4, 6},
}

// QuantizeDynamic rewrites a float model for dynamic-range (weight-only)
// quantization: the constant float32 weights of FULLY_CONNECTED, CONV_2D
// and DEPTHWISE_CONV_2D become int8 symmetric ([-127, 127], zero point 0);
// activations and biases stay float32, and the runtime quantizes each
// input on the fly (the hybrid kernels). DEPTHWISE_CONV_2D weights are
// always per channel (TFLite's hybrid depthwise kernel needs it). A weight
// tensor that something else also reads stays float32. Float16 weights
// behind DEQUANTIZE are folded into float32 first.
func QuantizeDynamic(model []byte, opts *DynamicOptions) ([]byte, *DynamicReport, error) {
	if opts == nil {
		opts = &DynamicOptions{MinElements: -1}
	}
	minElems := opts.MinElements
	if minElems < 0 {
		minElems = 1024
	}
	m, err := Read(model)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFloatModel(m); err != nil {
		return nil, nil, err
	}
	if err := foldFloat16(m); err != nil {
		return nil, nil, err
	}
	sg := m.Subgraphs[0]
	// Every reader of each tensor: a weight is quantized only when its
	// one reader is the weighted operator's filter slot.
	readers := map[int32]int{}
	for _, op := range sg.Operators {
		for _, in := range op.Inputs {
			if in >= 0 {
				readers[in]++
			}
		}
	}
	for _, o := range sg.Outputs {
		readers[o]++
	}
	q := &quantizer{m: m, sg: sg}
	rep := &DynamicReport{}
	for i, op := range sg.Operators {
		code, err := BuiltinCode(m, op)
		if err != nil {
			return nil, nil, err
		}
		versions, ok := hybridVersions[code]
		if !ok || len(op.Inputs) < 2 || op.Inputs[1] < 0 || int(op.Inputs[1]) >= len(sg.Tensors) {
			continue
		}
		w := sg.Tensors[op.Inputs[1]]
		if w.Type != schema.TensorTypeFLOAT32 || bufferData(m, w) == nil {
			continue
		}
		if readers[op.Inputs[1]] != 1 || elements(w.Shape) < minElems {
			rep.Kept = append(rep.Kept, w.Name)
			continue
		}
		axis := -1
		switch {
		case code == schema.BuiltinOperatorCONV_2D:
			axis = 0
		case code == schema.BuiltinOperatorDEPTHWISE_CONV_2D:
			axis = 3
		case opts.PerChannelFC:
			axis = 0
		}
		if axis >= len(w.Shape) {
			return nil, nil, fmt.Errorf("operator %d (%s): weights %q have shape %v", i, code, w.Name, w.Shape)
		}
		before := len(bufferData(m, w))
		if _, err := q.quantizeWeights(w, axis); err != nil {
			return nil, nil, fmt.Errorf("operator %d (%s): %w", i, code, err)
		}
		rep.Quantized = append(rep.Quantized, w.Name)
		rep.FloatBytes += before
		rep.Int8Bytes += len(bufferData(m, w))
		v := versions[0]
		if axis >= 0 {
			v = versions[1]
		}
		if code == schema.BuiltinOperatorFULLY_CONNECTED && opts.AsymmetricInputs {
			v = 9
			if op.BuiltinOptions == nil || op.BuiltinOptions.Value == nil {
				op.BuiltinOptions = &schema.BuiltinOptionsT{Type: schema.BuiltinOptionsFullyConnectedOptions, Value: &schema.FullyConnectedOptionsT{}}
			}
			if o, ok := op.BuiltinOptions.Value.(*schema.FullyConnectedOptionsT); ok {
				o.AsymmetricQuantizeInputs = true
			}
		}
		op.OpcodeIndex = q.opcode(code, v)
	}
	if len(rep.Quantized) == 0 {
		return nil, rep, fmt.Errorf("quantize --dynamic: no FULLY_CONNECTED, CONV_2D or DEPTHWISE_CONV_2D weights of at least %d elements to quantize (%d kept in float32)", minElems, len(rep.Kept))
	}
	dropUnusedBuffers(m)
	dropUnusedOpcodes(m)
	out, err := Write(m)
	if err != nil {
		return nil, nil, err
	}
	return out, rep, nil
}

func elements(shape []int32) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}
