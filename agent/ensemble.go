package agent

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/edged-dev/edged/agent/batch"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// ensemble runs its members in parallel on each request (each through its
// own batcher, interpreters and metrics) and combines their first outputs.
type ensemble struct {
	a       *Agent
	members []string
	combine string
}

// loadEnsemble builds a served model from already loaded members.
func (a *Agent) loadEnsemble(mc config.Model) (*servedModel, error) {
	e := &ensemble{a: a, members: mc.Ensemble.Members, combine: mc.Ensemble.Combine}
	var infos []infer.ModelInfo
	h := sha256.New()
	for _, name := range e.members {
		mi, err := a.Model(name, "")
		if err != nil {
			return nil, fmt.Errorf("ensemble %q: %w", mc.Name, err)
		}
		infos = append(infos, mi)
		h.Write([]byte(mi.SHA256))
	}
	h.Write([]byte(e.combine))
	first := infos[0]
	for _, mi := range infos[1:] {
		if !sameSpecs(mi.Inputs, first.Inputs) {
			return nil, fmt.Errorf("ensemble %q: %q and %q take different inputs", mc.Name, first.Name, mi.Name)
		}
	}
	out := infer.TensorSpec{Name: "ensemble_" + e.combine, DType: tensor.Float32}
	o0 := first.Outputs[0]
	switch e.combine {
	case "mean":
		for _, mi := range infos[1:] {
			if !tensor.SameShape(mi.Outputs[0].Shape, o0.Shape) {
				return nil, fmt.Errorf("ensemble %q: mean of outputs shaped %v and %v", mc.Name, o0.Shape, mi.Outputs[0].Shape)
			}
		}
		out.Shape = slices.Clone(o0.Shape)
	case "vote":
		for _, mi := range infos {
			if tensor.NumElements(mi.Outputs[0].Shape) < 2 {
				return nil, fmt.Errorf("ensemble %q: %q's output has %v; a vote needs classes", mc.Name, mi.Name, mi.Outputs[0].Shape)
			}
		}
		out.DType, out.Shape = tensor.Int32, []int{1}
	case "concat":
		last := 0
		for _, mi := range infos {
			sh := mi.Outputs[0].Shape
			if len(sh) == 0 || len(sh) != len(o0.Shape) || !tensor.SameShape(sh[:len(sh)-1], o0.Shape[:len(o0.Shape)-1]) {
				return nil, fmt.Errorf("ensemble %q: cannot concatenate outputs shaped %v and %v on the last axis", mc.Name, o0.Shape, sh)
			}
			last += sh[len(sh)-1]
		}
		out.Shape = append(slices.Clone(o0.Shape[:len(o0.Shape)-1]), last)
	}
	s := &servedModel{loaded: time.Now(), capacity: mc.Batch.QueueCapacity}
	s.info = infer.ModelInfo{Name: mc.Name, Version: mc.Version, SHA256: hex.EncodeToString(h.Sum(nil)), Path: "ensemble of " + fmt.Sprint(e.members),
		Inputs: first.Inputs, Outputs: []infer.TensorSpec{out}, Ready: true, MaxBatch: mc.Batch.MaxBatch}
	if e.combine == "vote" {
		s.info.Labels = first.Labels
	}
	var err error
	if s.pool, err = newPool(a.reg, mc, []batch.Invoker{e}); err != nil {
		return nil, err
	}
	return s, nil
}

func sameSpecs(a, b []infer.TensorSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].DType != b[i].DType || !tensor.SameShape(a[i].Shape, b[i].Shape) || a[i].Quantized != b[i].Quantized ||
			a[i].Scale != b[i].Scale || a[i].ZeroPoint != b[i].ZeroPoint {
			return false
		}
	}
	return true
}

// InvokeBatch implements batch.Invoker: each request fans out to the
// members in parallel.
func (e *ensemble) InvokeBatch(ctx context.Context, reqs [][]infer.Tensor) ([][]infer.Tensor, []error) {
	outs := make([][]infer.Tensor, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for k, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[k], errs[k] = e.one(ctx, req)
		}()
	}
	wg.Wait()
	return outs, errs
}

// one answers one request: every member's first output, combined.
func (e *ensemble) one(ctx context.Context, req []infer.Tensor) ([]infer.Tensor, error) {
	vals, shapes, err := e.fanOut(ctx, req)
	if err != nil {
		return nil, err
	}
	var res []float64
	var shape []int
	switch e.combine {
	case "mean":
		res, shape = mean(vals), shapes[0]
	case "vote":
		data := binary.LittleEndian.AppendUint32(nil, uint32(int32(vote(vals))))
		return []infer.Tensor{{Name: "ensemble_vote", DType: tensor.Int32, Shape: []int{1}, Data: data}}, nil
	case "concat":
		res, shape = concat(vals, shapes)
	}
	data := make([]byte, 4*len(res))
	for j, v := range res {
		binary.LittleEndian.PutUint32(data[4*j:], math.Float32bits(float32(v)))
	}
	return []infer.Tensor{{Name: "ensemble_" + e.combine, DType: tensor.Float32, Shape: shape, Data: data}}, nil
}

// fanOut runs the request on every member in parallel and returns their
// first outputs as real values, with their shapes.
func (e *ensemble) fanOut(ctx context.Context, req []infer.Tensor) ([][]float64, [][]int, error) {
	vals := make([][]float64, len(e.members))
	errs := make([]error, len(e.members))
	shapes := make([][]int, len(e.members))
	var wg sync.WaitGroup
	for i, name := range e.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mi, err := e.a.Model(name, "")
			if err != nil {
				errs[i] = err
				return
			}
			out, err := e.a.Infer(ctx, name, "", req)
			if err != nil {
				errs[i] = fmt.Errorf("member %q: %w", name, err)
				return
			}
			vals[i], errs[i] = infer.RealValues(out[0], mi.Outputs[0])
			if errs[i] != nil {
				errs[i] = fmt.Errorf("member %q: cannot combine its output: %w", name, errs[i])
			}
			shapes[i] = out[0].Shape
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return vals, shapes, nil
}

// mean is the element-wise mean of the members' outputs.
func mean(vals [][]float64) []float64 {
	res := make([]float64, len(vals[0]))
	for _, v := range vals {
		for j := range res {
			res[j] += v[j]
		}
	}
	for j := range res {
		res[j] /= float64(len(vals))
	}
	return res
}

// vote is the class most members rank first (the lowest on a tie).
func vote(vals [][]float64) int {
	votes := map[int]int{}
	best := -1
	for _, v := range vals {
		c := argmax(v)
		votes[c]++
		if best < 0 || votes[c] > votes[best] || (votes[c] == votes[best] && c < best) {
			best = c
		}
	}
	return best
}

// concat joins the members' outputs on the last axis.
func concat(vals [][]float64, shapes [][]int) ([]float64, []int) {
	var res []float64
	last := 0
	for _, sh := range shapes {
		last += sh[len(sh)-1]
	}
	rows := len(vals[0]) / shapes[0][len(shapes[0])-1]
	for r := 0; r < rows; r++ {
		for i, v := range vals {
			w := shapes[i][len(shapes[i])-1]
			res = append(res, v[r*w:(r+1)*w]...)
		}
	}
	return res, append(slices.Clone(shapes[0][:len(shapes[0])-1]), last)
}

func argmax(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}
