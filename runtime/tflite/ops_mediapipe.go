package tflite

import (
	"encoding/binary"

	"github.com/edged-dev/edged/runtime/kernels"
)

// MediaPipe's custom operators, built into the official runtime. Their
// options are TFLite C structs written raw (little-endian int32 fields):
// TfLitePoolParams {padding, stride_width, stride_height, filter_width,
// filter_height, activation, ...} and TfLiteTransposeConvParams {padding,
// stride_width, stride_height, ...}; missing trailing fields read as 0.
func init() {
	registerCustom("MaxPoolingWithArgmax2D", 1, prepareMaxPoolArgmax)
	registerCustom("MaxUnpooling2D", 1, prepareMaxUnpool)
	registerCustom("Convolution2DTransposeBias", 1, prepareTransposeConvBias)
}

// rawInt32s reads n little-endian int32 fields of a custom options
// struct, zero where the options end.
func rawInt32s(b []byte, n int) []int {
	v := make([]int, n)
	for i := range v {
		if len(b) >= 4*(i+1) {
			v[i] = int(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	return v
}

// rawPadding maps TfLitePadding (1 SAME, 2 VALID).
func rawPadding(v int) (kernels.Padding, error) {
	switch v {
	case 1:
		return kernels.PaddingSame, nil
	case 2:
		return kernels.PaddingValid, nil
	}
	return 0, malformedf("padding %d in the custom options; want 1 (SAME) or 2 (VALID)", v)
}

func mpPoolParams(n *node) (kernels.MPPoolParams, error) {
	f := rawInt32s(n.op.CustomOptions(), 6)
	pad, err := rawPadding(f[0])
	if err != nil {
		return kernels.MPPoolParams{}, err
	}
	if f[5] < 0 || f[5] > 5 {
		return kernels.MPPoolParams{}, malformedf("activation %d in the custom options", f[5])
	}
	return kernels.MPPoolParams{Padding: pad, StrideW: f[1], StrideH: f[2], FilterW: f[3], FilterH: f[4], Activation: kernels.Activation(f[5])}, nil
}

func prepareMaxPoolArgmax(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 2); err != nil {
		return nil, err
	}
	p, err := mpPoolParams(n)
	if err != nil {
		return nil, err
	}
	return kernels.MaxPoolWithArgmax(n.cfg, p, n.input(0), n.output(0), n.output(1))
}

func prepareMaxUnpool(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(2, 2, 1); err != nil {
		return nil, err
	}
	p, err := mpPoolParams(n)
	if err != nil {
		return nil, err
	}
	return kernels.MaxUnpool(n.cfg, p, n.input(0), n.input(1), n.output(0))
}

func prepareTransposeConvBias(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 3, 1); err != nil {
		return nil, err
	}
	f := rawInt32s(n.op.CustomOptions(), 3)
	pad, err := rawPadding(f[0])
	if err != nil {
		return nil, err
	}
	return kernels.TransposeConvBias(n.cfg, pad, f[2], f[1], n.input(0), n.input(1), n.input(2), n.output(0))
}
