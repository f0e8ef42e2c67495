package infer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/edged-dev/edged/runtime/tensor"
)

// MaxSplit bounds the batch of one request over a model whose inputs fix
// batch 1: each item is one request in the pipeline.
const MaxSplit = 1024

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// SplitBatch makes one item per batch entry of inputs (in the model's
// input order) whose shapes carry a batch k > 1 over the model's batch 1
// (Triton runs such a request as k; TFLite files usually fix batch 1).
// Without such a batch it returns the inputs as the one item.
func SplitBatch(mi ModelInfo, in []Tensor) ([][]Tensor, error) {
	k := 1
	for i, t := range in {
		if n := BatchOf(t.Shape, mi.Inputs[i].Shape); n != 1 {
			if k != 1 && n != k {
				return nil, badf("input %q has a batch of %d; another input has %d", mi.Inputs[i].Name, n, k)
			}
			k = n
		}
	}
	if k == 1 {
		return [][]Tensor{in}, nil
	}
	if k > MaxSplit {
		return nil, badf("a batch of %d; at most %d in one request over a model of batch 1", k, MaxSplit)
	}
	items := make([][]Tensor, k)
	for j := range k {
		item := make([]Tensor, len(in))
		for i, t := range in {
			spec := mi.Inputs[i]
			if BatchOf(t.Shape, spec.Shape) == 1 {
				return nil, badf("input %q has no batch of %d as the others", spec.Name, k)
			}
			size := len(t.Data) / k
			item[i] = Tensor{Name: spec.Name, DType: spec.DType, Shape: spec.Shape, Data: t.Data[j*size : (j+1)*size]}
		}
		items[j] = item
	}
	return items, nil
}

// BatchOf is the batch a request shape carries over a model shape: 1 when
// they are the same, k when the model's first dimension is 1 and the
// request's k > 1 with the rest the same.
func BatchOf(got, model []int) int {
	if len(got) == 0 || len(got) != len(model) || model[0] != 1 || got[0] <= 1 || !tensor.SameShape(got[1:], model[1:]) {
		return 1
	}
	return got[0]
}

// RunItems answers the items of a request: one pipeline request each, in
// flight together (as many as the batcher groups; MaxBatch 1 runs them
// one after another) so that the batcher can run them as one invocation
// where the model allows. The first item to fail fails the request.
func RunItems(ctx context.Context, h Handler, mi ModelInfo, version, id string, items [][]Tensor) ([]*Response, error) {
	out := make([]*Response, len(items))
	if len(items) == 1 {
		res, err := h.Handle(ctx, &Request{Model: mi.Name, Version: version, ID: id, Inputs: items[0]})
		out[0] = res
		return out, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(mi.MaxBatch, 1))
	for i, in := range items {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			out[i], errs[i] = h.Handle(ctx, &Request{Model: mi.Name, Version: version, ID: id, Inputs: in})
			if errs[i] != nil {
				cancel() // the whole request fails: stop the rest
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("batch item %d: %w", i, err)
		}
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("batch item %d: %w", i, err)
		}
	}
	return out, nil
}

// JoinBatch stacks the outputs of a split request's items: k outputs of
// shape [1, ...] make one of [k, ...] (of shape S, one of [k, S...]).
func JoinBatch(results []*Response) ([]Tensor, error) {
	k := len(results)
	outs := make([]Tensor, len(results[0].Outputs))
	for o, first := range results[0].Outputs {
		shape := append([]int{k}, first.Shape...)
		if len(first.Shape) > 0 && first.Shape[0] == 1 {
			shape = append([]int{k}, first.Shape[1:]...)
		}
		data := make([]byte, 0, k*len(first.Data))
		for _, r := range results {
			if len(r.Outputs) != len(outs) || len(r.Outputs[o].Data) != len(first.Data) {
				return nil, fmt.Errorf("the items of a batch gave outputs of different sizes")
			}
			data = append(data, r.Outputs[o].Data...)
		}
		outs[o] = Tensor{Name: first.Name, DType: first.DType, Shape: shape, Data: data}
	}
	return outs, nil
}

// Classify returns Triton's classification strings "value:index[:label]"
// for the k largest values (fewer when the output has fewer), values as
// the output's type prints them: the model's own output values (the
// classification extension: "the value associated with that index in the
// model output").
func Classify(vals []float64, dt tensor.DType, labels []string, k int) []string {
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return vals[idx[a]] > vals[idx[b]] })
	var out []string
	for _, i := range idx[:min(k, len(idx))] {
		var s string
		switch dt {
		case tensor.Float32:
			s = strconv.FormatFloat(vals[i], 'g', -1, 32)
		case tensor.Float64, tensor.Float16:
			s = strconv.FormatFloat(vals[i], 'g', -1, 64)
		default:
			s = strconv.FormatFloat(vals[i], 'f', -1, 64)
		}
		s += ":" + strconv.Itoa(i)
		if i < len(labels) {
			s += ":" + labels[i]
		}
		out = append(out, s)
	}
	return out
}

// ClassifyRows classifies each of rows equal rows of vals apart (Triton's
// [batch-size, count] for a batch).
func ClassifyRows(vals []float64, dt tensor.DType, labels []string, k, rows int) []string {
	var strs []string
	per := len(vals) / max(rows, 1)
	for r := range rows {
		strs = append(strs, Classify(vals[r*per:(r+1)*per], dt, labels, k)...)
	}
	return strs
}

// EncodeBytes is a BYTES tensor in the binary layout of the protocol's
// binary extension and gRPC raw contents: each element's length as a
// little-endian uint32, then its bytes.
func EncodeBytes(strs []string) []byte {
	var b []byte
	for _, s := range strs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}
