package deploy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
)

// interfaceChange compares the inputs and outputs a manifest describes
// (element type and shape of each, in order) with those of the version
// serving now. It returns "" when they match, when the manifest does
// not describe them (a manifest not written by ota/bundle), or when it
// says the change is meant; otherwise a sentence for the operator.
func interfaceChange(m *sign.Manifest, serving infer.ModelInfo) string {
	if m.InterfaceChange || len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		return ""
	}
	var in, out []bundle.TensorDesc
	if json.Unmarshal(m.Inputs, &in) != nil || json.Unmarshal(m.Outputs, &out) != nil {
		return ""
	}
	if sameTensors(in, serving.Inputs) && sameTensors(out, serving.Outputs) {
		return ""
	}
	return fmt.Sprintf("version %d takes %s and gives %s, but version %s serving now takes %s and gives %s: "+
		"clients of the model would break; if the change is meant, bundle it again with --interface-change",
		m.Version, descList(in), descList(out), serving.Version, specList(serving.Inputs), specList(serving.Outputs))
}

func sameTensors(ds []bundle.TensorDesc, ss []infer.TensorSpec) bool {
	if len(ds) != len(ss) {
		return false
	}
	for i, d := range ds {
		s := ss[i]
		if d.DType != s.DType.String() || len(d.Shape) != len(s.Shape) {
			return false
		}
		for j := range d.Shape {
			if d.Shape[j] != s.Shape[j] {
				return false
			}
		}
	}
	return true
}

func tensorText(dtype string, shape []int) string {
	dims := make([]string, len(shape))
	for i, n := range shape {
		dims[i] = fmt.Sprint(n)
	}
	return dtype + "[" + strings.Join(dims, ",") + "]"
}

func descList(ds []bundle.TensorDesc) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = tensorText(d.DType, d.Shape)
	}
	return strings.Join(parts, " ")
}

func specList(ss []infer.TensorSpec) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = tensorText(s.DType.String(), s.Shape)
	}
	return strings.Join(parts, " ")
}
