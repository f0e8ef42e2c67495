package compress

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// Stats are the measurements of one model that a before/after table
// compares. Measure fills them.
type Stats struct {
	FileBytes int
	// GzipBytes is the size after gzip -9: what pruning gains on the wire.
	GzipBytes int
	Params    int64 // elements of constant tensors (tflite.Model.Params)
	MACs      int64 // per Invoke (tflite.Interpreter.MACs)
	// Latency is the median of Runs Invokes in edged's interpreter, one
	// thread, on the first input sample.
	Latency time.Duration
	Runs    int
	// Samples is the number of inputs the outputs were recorded for.
	Samples int

	outShapes [][]int       // per output
	outputs   [][][]float64 // [sample][output] dequantized values
}

// Measure loads a model, runs it on every input sample and times it.
// inputs[s][k] is input k of sample s: raw tensor bytes of the model's
// input type, or float32 values for an int8/uint8 input (quantized with
// the input's scale and zero point), so that the samples of a float
// model also feed its quantized version. runs is the number of timed
// Invokes (at least 1).
func Measure(data []byte, inputs [][][]byte, runs int) (*Stats, error) {
	m, err := tflite.Load(data)
	if err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	s := &Stats{FileBytes: len(data), GzipBytes: gzipSize(data), Params: m.Params(), MACs: it.MACs(), Runs: max(runs, 1)}
	for k := 0; k < it.NumOutputs(); k++ {
		s.outShapes = append(s.outShapes, slices.Clone(it.Output(k).Shape))
	}
	feed := func(sample [][]byte, idx int) error {
		if len(sample) != it.NumInputs() {
			return fmt.Errorf("measure: sample %d has %d inputs; the model takes %d", idx, len(sample), it.NumInputs())
		}
		for k, b := range sample {
			in := it.Input(k)
			v, err := convertInput(b, in)
			if err != nil {
				return fmt.Errorf("measure: sample %d input %d: %w", idx, k, err)
			}
			copy(in.Data, v)
		}
		return nil
	}
	for i, sample := range inputs {
		if err := feed(sample, i); err != nil {
			return nil, err
		}
		if err := it.Invoke(); err != nil {
			return nil, fmt.Errorf("measure: sample %d: %w", i, err)
		}
		outs := make([][]float64, it.NumOutputs())
		for k := range outs {
			if outs[k], err = dequantize(it.Output(k)); err != nil {
				return nil, fmt.Errorf("measure: output %d: %w", k, err)
			}
		}
		s.outputs = append(s.outputs, outs)
	}
	s.Samples = len(inputs)
	if len(inputs) > 0 {
		if err := feed(inputs[0], 0); err != nil {
			return nil, err
		}
	}
	if err := it.Invoke(); err != nil { // warm-up
		return nil, fmt.Errorf("measure: %w", err)
	}
	times := make([]time.Duration, s.Runs)
	for i := range times {
		t0 := time.Now()
		if err := it.Invoke(); err != nil {
			return nil, fmt.Errorf("measure: %w", err)
		}
		times[i] = time.Since(t0)
	}
	slices.Sort(times)
	s.Latency = times[len(times)/2]
	return s, nil
}

func gzipSize(data []byte) int {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(data)
	zw.Close()
	return buf.Len()
}

// convertInput adapts sample bytes to input tensor t (see Measure).
func convertInput(b []byte, t *tensor.Tensor) ([]byte, error) {
	n := t.NumElements()
	if len(b) == t.NumBytes() {
		return b, nil
	}
	if len(b) == 4*n && (t.Type == tensor.Int8 || t.Type == tensor.UInt8) && t.Quant != nil && len(t.Quant.Scale) == 1 && t.Quant.Scale[0] > 0 {
		lo, hi := -128.0, 127.0
		if t.Type == tensor.UInt8 {
			lo, hi = 0, 255
		}
		scale, zp := float64(t.Quant.Scale[0]), float64(t.ZeroPoint())
		out := make([]byte, n)
		for i := range out {
			x := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			q := math.Max(lo, math.Min(hi, math.Round(x/scale)+zp))
			if math.IsNaN(q) {
				q = zp
			}
			out[i] = byte(int8(int(q)))
			if t.Type == tensor.UInt8 {
				out[i] = byte(int(q))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%d bytes; tensor %v needs %d (or %d bytes of float32 to quantize)", len(b), t, t.NumBytes(), 4*n)
}

// dequantize returns an output's values as float64.
func dequantize(t *tensor.Tensor) ([]float64, error) {
	n := t.NumElements()
	out := make([]float64, n)
	scale, zp := 1.0, 0.0
	if t.Quant != nil && len(t.Quant.Scale) == 1 {
		scale, zp = float64(t.Quant.Scale[0]), float64(t.ZeroPoint())
	}
	switch t.Type {
	case tensor.Float32:
		for i, v := range t.Float32s()[:n] {
			out[i] = float64(v)
		}
	case tensor.Int8:
		for i, v := range t.Int8s()[:n] {
			out[i] = (float64(v) - zp) * scale
		}
	case tensor.UInt8:
		for i, v := range t.UInt8s()[:n] {
			out[i] = (float64(v) - zp) * scale
		}
	case tensor.Int16:
		for i, v := range t.Int16s()[:n] {
			out[i] = (float64(v) - zp) * scale
		}
	case tensor.Int32:
		for i, v := range t.Int32s()[:n] {
			out[i] = float64(v)
		}
	case tensor.Int64:
		for i, v := range t.Int64s()[:n] {
			out[i] = float64(v)
		}
	default:
		return nil, fmt.Errorf("%s outputs are not compared", t.Type)
	}
	return out, nil
}

// RandomInputs makes n input samples for a model when no data is given:
// standard normal values for float inputs, uniform over the whole range
// for integer ones. Accuracy on them says how far the outputs move, not
// how good the model is.
func RandomInputs(data []byte, n int, seed uint64) ([][][]byte, error) {
	m, err := tflite.Load(data)
	if err != nil {
		return nil, fmt.Errorf("random inputs: %w", err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		return nil, fmt.Errorf("random inputs: %w", err)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([][][]byte, n)
	for s := range out {
		for k := 0; k < it.NumInputs(); k++ {
			t := it.Input(k)
			b := make([]byte, t.NumBytes())
			switch t.Type {
			case tensor.Float32:
				for i := 0; i < t.NumElements(); i++ {
					binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64())))
				}
			case tensor.Int8, tensor.UInt8, tensor.Int16:
				for i := range b {
					b[i] = byte(r.Uint32())
				}
			}
			out[s] = append(out[s], b)
		}
	}
	return out, nil
}

// Table is a before/after comparison, printed by Print.
type Table struct {
	Rows  []Row
	Notes []string
}

// Row is one line of a Table.
type Row struct {
	Name, Before, After, Change string
}

// Add appends a row (for what a command measures itself, e.g. sparsity).
func (t *Table) Add(name, before, after, change string) {
	t.Rows = append(t.Rows, Row{name, before, after, change})
}

// Note appends a line printed under the table.
func (t *Table) Note(format string, args ...any) {
	t.Notes = append(t.Notes, fmt.Sprintf(format, args...))
}

// Compare tabulates two measurements of a model before and after a
// compression step, with the accuracy of after against before on the
// same samples: for a classifier output (one axis of at least 2 classes,
// every other of size 1) the share of samples whose top-1 class agrees,
// otherwise the mean absolute error of the dequantized values.
func Compare(before, after *Stats) *Table {
	t := &Table{}
	t.Add("file size", bytesStr(before.FileBytes), bytesStr(after.FileBytes), change(float64(before.FileBytes), float64(after.FileBytes)))
	t.Add("gzip -9 size", bytesStr(before.GzipBytes), bytesStr(after.GzipBytes), change(float64(before.GzipBytes), float64(after.GzipBytes)))
	t.Add("parameters", fmt.Sprint(before.Params), fmt.Sprint(after.Params), change(float64(before.Params), float64(after.Params)))
	t.Add("MACs", fmt.Sprint(before.MACs), fmt.Sprint(after.MACs), change(float64(before.MACs), float64(after.MACs)))
	t.Add(fmt.Sprintf("latency (median of %d)", after.Runs), durStr(before.Latency), durStr(after.Latency), change(float64(before.Latency), float64(after.Latency)))
	switch {
	case before.Samples == 0 || after.Samples == 0:
		t.Note("no input samples: accuracy not measured")
		return t
	case before.Samples != after.Samples || len(before.outShapes) != len(after.outShapes):
		t.Note("accuracy not measured: %d samples and %d outputs before, %d and %d after", before.Samples, len(before.outShapes), after.Samples, len(after.outShapes))
		return t
	}
	for k, shape := range before.outShapes {
		name := fmt.Sprintf("output %d", k)
		if len(before.outShapes) == 1 {
			name = "output"
		}
		if tensor.NumElements(shape) != tensor.NumElements(after.outShapes[k]) {
			t.Note("%s: shape %v before, %v after: not compared", name, shape, after.outShapes[k])
			continue
		}
		if isClassifier(shape) {
			agree := 0
			for s := range before.outputs {
				if argmax(before.outputs[s][k]) == argmax(after.outputs[s][k]) {
					agree++
				}
			}
			t.Add("top-1 agreement, "+name, "reference", fmt.Sprintf("%d/%d", agree, before.Samples), fmt.Sprintf("%.1f%%", 100*float64(agree)/float64(before.Samples)))
			continue
		}
		var sum float64
		var n int
		for s := range before.outputs {
			for i, v := range before.outputs[s][k] {
				sum += math.Abs(after.outputs[s][k][i] - v)
				n++
			}
		}
		mae := 0.0
		if n > 0 {
			mae = sum / float64(n)
		}
		t.Add("mean abs error, "+name, "reference", fmt.Sprintf("%.4g", mae), "")
	}
	return t
}

// isClassifier: the last axis holds two or more classes and every other
// axis is 1, as TFLite classifiers write their scores. A score per anchor,
// [1, 896, 1], is not a class distribution.
func isClassifier(shape []int) bool {
	if len(shape) == 0 || shape[len(shape)-1] < 2 {
		return false
	}
	for _, d := range shape[:len(shape)-1] {
		if d != 1 {
			return false
		}
	}
	return true
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func bytesStr(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d (%.2f MiB)", n, float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d (%.1f KiB)", n, float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func durStr(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

func change(before, after float64) string {
	if before == 0 {
		return ""
	}
	return fmt.Sprintf("%+.1f%%", 100*(after-before)/before)
}

// Print writes the table with aligned columns, then its notes.
func (t *Table) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tbefore\tafter\tchange")
	for _, r := range t.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Before, r.After, r.Change)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range t.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}
