package drift

import (
	"fmt"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Schema is how a model's inputs and outputs become drift features:
// the agent feeds its detector with it, and edgectl profile builds the
// reference profile with it, so the two agree on feature names.
//
//   - Every input i gives features named "input<i>..." (see
//     Extractor: one per element of a vector, mean and std per
//     channel of an image or time series).
//   - Output 0 is the classifier output when it is a vector of 2 or more
//     scores (or the model has labels): its top-1 class goes to the
//     chi-square and JS statistics.
//   - Every other output gives features named "output<j>...": score
//     histograms for models that are not classifiers.
//
// Tensors of types drift does not read (int32, int64, ...) are left out.
type Schema struct {
	ins, outs []*Extractor // nil where a tensor is left out
	// ClassOutput is the index of the classifier output, or -1.
	ClassOutput int
	// Classes is its number of classes (0 without).
	Classes  int
	classSpc infer.TensorSpec
	features []FeatureSpec
}

// NewSchema derives the schema of a model.
func NewSchema(mi infer.ModelInfo) (*Schema, error) {
	s := &Schema{ClassOutput: -1, ins: make([]*Extractor, len(mi.Inputs)), outs: make([]*Extractor, len(mi.Outputs))}
	if len(mi.Outputs) > 0 {
		o := mi.Outputs[0]
		n := tensor.NumElements(o.Shape)
		if len(o.Shape) > 0 && o.Shape[0] > 1 && len(o.Shape) >= 2 {
			n /= o.Shape[0]
		}
		vector := len(o.Shape) <= 2 && n >= 2 && n <= MaxClasses
		if _, err := Top1(o, make([]byte, o.DType.Size())); err == nil && (vector || (len(mi.Labels) >= 2 && n == len(mi.Labels))) {
			s.ClassOutput, s.Classes, s.classSpc = 0, n, o
		}
	}
	add := func(dst []*Extractor, i int, prefix string, spec infer.TensorSpec) {
		e, err := NewExtractor(prefix, spec)
		if err != nil {
			return // a type or shape drift does not read
		}
		dst[i] = e
		s.features = append(s.features, e.Features()...)
	}
	for i, sp := range mi.Inputs {
		add(s.ins, i, fmt.Sprintf("input%d", i), sp)
	}
	for j, sp := range mi.Outputs {
		if j != s.ClassOutput {
			add(s.outs, j, fmt.Sprintf("output%d", j), sp)
		}
	}
	if len(s.features) > MaxFeatures {
		return nil, fmt.Errorf("drift schema of %q: %d features; at most %d", mi.Name, len(s.features), MaxFeatures)
	}
	if len(s.features) == 0 && s.ClassOutput < 0 {
		return nil, fmt.Errorf("drift schema of %q: no input or output drift can read", mi.Name)
	}
	return s, nil
}

// Features lists the features Sample produces, in order.
func (s *Schema) Features() []FeatureSpec { return s.features }

// Sample appends the features of one request (its inputs and outputs, raw
// bytes of one sample each) to dst and returns them with the top-1 class
// (NoClass without a classifier output).
func (s *Schema) Sample(dst []float64, in, out []infer.Tensor) ([]float64, int, error) {
	if len(in) != len(s.ins) || len(out) != len(s.outs) {
		return dst, NoClass, fmt.Errorf("drift sample: %d inputs and %d outputs; want %d and %d", len(in), len(out), len(s.ins), len(s.outs))
	}
	var err error
	for i, e := range s.ins {
		if e != nil {
			if dst, err = e.Extract(dst, in[i].Data); err != nil {
				return dst, NoClass, fmt.Errorf("input %d: %w", i, err)
			}
		}
	}
	for j, e := range s.outs {
		if e != nil {
			if dst, err = e.Extract(dst, out[j].Data); err != nil {
				return dst, NoClass, fmt.Errorf("output %d: %w", j, err)
			}
		}
	}
	class := NoClass
	if s.ClassOutput >= 0 {
		if class, err = Top1(s.classSpc, out[s.ClassOutput].Data); err != nil {
			class = NoClass
		}
	}
	return dst, class, nil
}

// Labels returns nil for a model without a classifier output, else its
// labels (empty strings when the model has none), as NewProfiler
// takes them.
func (s *Schema) Labels(mi infer.ModelInfo) []string {
	if s.ClassOutput < 0 {
		return nil
	}
	if len(mi.Labels) == s.Classes {
		return mi.Labels
	}
	return make([]string, s.Classes)
}
