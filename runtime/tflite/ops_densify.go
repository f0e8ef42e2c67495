package tflite

import (
	"slices"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

func init() {
	registerBuiltin(schema.BuiltinOperatorDENSIFY, 1, prepareDensify)
}

// prepareDensify: DENSIFY turns a sparse constant into a dense tensor.
// The loader has densified every sparse constant already (sparse.go), so
// the operator copies it (and constant folding makes its output the
// input's data).
func prepareDensify(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(1, 1, 1); err != nil {
		return nil, err
	}
	in, out := n.input(0), n.output(0)
	if !in.Const || !n.sg.Tensors[n.op.Inputs[0]].Sparse {
		return nil, malformedf("DENSIFY input %q is not a sparse constant", in.Name)
	}
	if in.Type != out.Type {
		return nil, malformedf("DENSIFY input %q is %s; output %q is %s", in.Name, in.Type, out.Name, out.Type)
	}
	out.Shape = slices.Clone(in.Shape)
	return kernels.Func(func() error {
		copy(out.Data, in.Data)
		return nil
	}), nil
}
