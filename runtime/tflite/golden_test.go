package tflite

import (
	"errors"
	"math"
	"testing"

	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
)

// TestGolden runs every case of testdata/golden in the default (LiteRT)
// arithmetic, which must reproduce the oracle (LiteRT with XNNPACK):
// every quantized output byte for byte, floats (including a detector's
// post-processed outputs, computed from identical quantized scores) within
// the tolerance of the oracle's own builds; and the expectations of the
// model's source. A model with an operator this runtime does not have yet
// is skipped, with the reason.
func TestGolden(t *testing.T) {
	suites, err := golden.Suites()
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) == 0 {
		t.Fatal("no golden suites")
	}
	for _, s := range suites {
		t.Run(s.Name(), func(t *testing.T) {
			it := goldenInterpreter(t, s, nil)
			exact, quantized := 0, 0
			for ci := range s.Cases {
				if ci > 0 && heavyInShort(it) {
					break
				}
				c := &s.Cases[ci]
				t.Run(c.Dir, func(t *testing.T) {
					outs := runCase(t, it, s, c)
					want, err := s.ReadOutputs(c)
					if err != nil {
						t.Fatal(err)
					}
					if len(want) != len(outs) {
						t.Fatalf("%d outputs; oracle has %d", len(outs), len(want))
					}
					for k := range want {
						typ := it.Output(k).Type
						if wt := s.Outputs[k].DType; wt != typ.String() {
							t.Errorf("output %d has type %s; oracle says %s", k, typ, wt)
							continue
						}
						d, err := golden.Compare(typ, outs[k], want[k])
						if err != nil {
							t.Fatalf("output %d vs oracle: %v", k, err)
						}
						if typ == tensor.Float32 {
							if d.OverTol > 0 {
								t.Errorf("output %d: %d of %d floats differ from the oracle beyond 1e-4+1e-4|want|; worst [%d] = %g, want %g (max |diff| %g)", k, d.OverTol, d.N, d.WorstAt, d.Got, d.Want, d.MaxAbs)
							}
							continue
						}
						quantized++
						if d.Differ == 0 {
							exact++
							continue
						}
						t.Errorf("output %d: %d of %d %s values differ from the oracle (must be bit-exact); worst [%d] = %g, want %g", k, d.Differ, d.N, typ, d.WorstAt, d.Got, d.Want)
					}
					checkExpectations(t, s, c, outs)
				})
			}
			if quantized > 0 {
				t.Logf("%s: %d of %d quantized outputs bit-exact with the oracle", s.Name(), exact, quantized)
			}
		})
	}
}

// TestGoldenReference runs every case in reference arithmetic and checks
// it against TFLite Micro's reference kernels (bit-exact for quantized
// outputs, where testdata/golden_ref_tflm has the case), against the
// oracle (floats within tolerance; quantized within the drift XNNPACK's
// rounding causes) and against the expectations of the model's source.
func TestGoldenReference(t *testing.T) {
	suites, err := golden.Suites()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range suites {
		t.Run(s.Name(), func(t *testing.T) {
			it := goldenInterpreter(t, s, &Options{Arithmetic: Reference})
			if heavyInShort(it) {
				t.Skip("a large model in -short mode: TestGolden runs it in the default arithmetic")
			}
			for ci := range s.Cases {
				c := &s.Cases[ci]
				t.Run(c.Dir, func(t *testing.T) {
					outs := runCase(t, it, s, c)
					checkAgainstRef(t, it, s, c, outs)
					checkAgainstOracle(t, it, s, c, outs)
					checkExpectations(t, s, c, outs)
				})
			}
		})
	}
}

// goldenInterpreter loads a suite's model; it skips the test when the
// model needs an operator this runtime does not implement.
func goldenInterpreter(t *testing.T, s *golden.Suite, opts *Options) *Interpreter {
	t.Helper()
	m, err := LoadFile(s.ModelFile())
	if errors.Is(err, ErrUnsupportedOp) {
		t.Skipf("not runnable yet: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, opts)
	if errors.Is(err, ErrUnsupportedOp) || errors.Is(err, kernels.ErrUnsupported) {
		t.Skipf("not runnable yet: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// checkExpectations checks the expectations of the model's source that
// the oracle meets.
func checkExpectations(t *testing.T, s *golden.Suite, c *golden.Case, outs [][]byte) {
	t.Helper()
	for _, e := range c.Expectations {
		if !e.Holds {
			continue
		}
		if err := s.Check(&e, outs); err != nil {
			t.Errorf("expectation from %s: %v", e.Source, err)
		}
	}
}

func runCase(t *testing.T, it *Interpreter, s *golden.Suite, c *golden.Case) [][]byte {
	t.Helper()
	ins, err := s.ReadInputs(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != it.NumInputs() {
		t.Fatalf("case has %d inputs; model has %d", len(ins), it.NumInputs())
	}
	for i, b := range ins {
		in := it.Input(i)
		if len(b) != len(in.Data) {
			t.Fatalf("input %d: file has %d bytes; tensor %v needs %d", i, len(b), in, len(in.Data))
		}
		copy(in.Data, b)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	outs := make([][]byte, it.NumOutputs())
	for i := range outs {
		outs[i] = append([]byte(nil), it.Output(i).Data...)
	}
	return outs
}

func checkAgainstRef(t *testing.T, it *Interpreter, s *golden.Suite, c *golden.Case, outs [][]byte) {
	ref, ok, err := s.ReadRefOutputs(c)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return
	}
	for k, want := range ref {
		typ := it.Output(k).Type
		d, err := golden.Compare(typ, outs[k], want)
		if err != nil {
			t.Fatalf("output %d vs reference: %v", k, err)
		}
		if typ == tensor.Float32 {
			if d.OverTol > 0 {
				t.Errorf("output %d: %d of %d floats differ from the reference kernels beyond 1e-4+1e-4|want|; worst [%d] = %g, want %g", k, d.OverTol, d.N, d.WorstAt, d.Got, d.Want)
			}
		} else if d.Differ > 0 {
			t.Errorf("output %d: %d of %d %s values differ from the reference kernels (must be bit-exact); worst [%d] = %g, want %g", k, d.Differ, d.N, typ, d.WorstAt, d.Got, d.Want)
		}
	}
}

// Limits on quantized drift from the oracle (XNNPACK rounds requantization
// differently by ±1 and deep networks compound it).
const (
	maxMeanDiff = 4
	maxAbsDiff  = 16
	// maxLabelDiffShare bounds the labels of a label map that may differ:
	// DeepLabV3 in reference arithmetic differs on 0.5% of the cat image's
	// pixels and on 6-9% of a random input's.
	maxLabelDiffShare = 0.15
)

func checkAgainstOracle(t *testing.T, it *Interpreter, s *golden.Suite, c *golden.Case, outs [][]byte) {
	want, err := s.ReadOutputs(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(outs) {
		t.Fatalf("%d outputs; oracle has %d", len(outs), len(want))
	}
	if it.Model().OpHistogram()["TFLite_Detection_PostProcess"] > 0 && len(want) == 4 {
		checkDetections(t, s, outs, want)
		return
	}
	for k := range want {
		o := it.Output(k)
		if wt := s.Outputs[k].DType; wt != o.Type.String() {
			t.Errorf("output %d has type %s; oracle says %s", k, o.Type, wt)
			continue
		}
		d, err := golden.Compare(o.Type, outs[k], want[k])
		if err != nil {
			t.Fatalf("output %d vs oracle: %v", k, err)
		}
		if o.Type == tensor.Float32 {
			s := dequantizedScale(it, k)
			if s == 0 && hybridModel(it) {
				// Float activations through int8 weights: the reference
				// kernels quantize each input row on the fly (with
				// TFLite's rounding), XNNPACK per tensor and in its own
				// way, so the floats move by a few percent. The decision
				// must not.
				t.Logf("output %d (hybrid model): max |diff| %g at [%d] (got %g, want %g)", k, d.MaxAbs, d.WorstAt, d.Got, d.Want)
				if !d.ArgmaxEq {
					t.Errorf("output %d: arg-max differs from the oracle's", k)
				}
				continue
			}
			if s == 0 {
				if d.OverTol > 0 {
					t.Errorf("output %d: %d of %d floats differ from the oracle beyond 1e-4+1e-4|want|; worst [%d] = %g, want %g", k, d.OverTol, d.N, d.WorstAt, d.Got, d.Want)
				}
				continue
			}
			// A quantized network's result, dequantized: the mean drift
			// limit applies in quantization steps; the largest drift is
			// only logged (the scores of a classifier behind LOGISTIC
			// move by more than maxAbsDiff steps where the logits differ
			// by a few).
			d.MeanAbs, d.MaxAbs, d.Got, d.Want = d.MeanAbs/s, d.MaxAbs/s, d.Got/s, d.Want/s
			t.Logf("output %d (dequantized): mean |diff| %.3f steps, max %g at [%d]", k, d.MeanAbs, d.MaxAbs, d.WorstAt)
			d.MaxAbs = 0
		}
		if o.Type == tensor.Int32 || o.Type == tensor.Int64 {
			// Label maps (ARG_MAX of a segmentation): the drift flips the
			// label wherever two classes are nearly tied.
			if share := float64(d.Differ) / float64(max(d.N, 1)); share > maxLabelDiffShare {
				t.Errorf("output %d: %d of %d labels differ from the oracle's (%.1f%%; limit %.0f%%)", k, d.Differ, d.N, 100*share, 100*maxLabelDiffShare)
			}
			continue
		}
		if d.MeanAbs > maxMeanDiff || d.MaxAbs > maxAbsDiff {
			t.Errorf("output %d: mean |diff| %.3f (limit %d), max %g at [%d] (got %g, want %g; limit %d)", k, d.MeanAbs, maxMeanDiff, d.MaxAbs, d.WorstAt, d.Got, d.Want, maxAbsDiff)
		}
		if o.Rank() == 2 && o.Shape[0] == 1 && o.Shape[1] > 1 && !d.ArgmaxEq {
			t.Errorf("output %d: top-1 differs from the oracle's", k)
		}
	}
}

// dequantizedScale returns the input scale of the DEQUANTIZE operator
// that produces float output k from an 8-bit tensor, or 0.
func dequantizedScale(it *Interpreter, k int) float64 {
	sg := it.sg
	out := sg.Outputs[k]
	for i := range sg.Operators {
		op := &sg.Operators[i]
		if len(op.Outputs) != 1 || op.Outputs[0] != out || it.model.OpName(op) != "DEQUANTIZE" {
			continue
		}
		if in := &sg.Tensors[op.Inputs[0]]; (in.Type == tensor.Int8 || in.Type == tensor.UInt8) && in.Quant != nil && len(in.Quant.Scale) == 1 {
			return float64(in.Quant.Scale[0])
		}
	}
	return 0
}

// hybridModel reports whether a model runs float activations through
// int8 or uint8 weights (dynamic-range quantization).
func hybridModel(it *Interpreter) bool {
	sg := it.sg
	for i := range sg.Operators {
		op := &sg.Operators[i]
		if len(op.Inputs) < 2 || op.Inputs[0] < 0 || op.Inputs[1] < 0 {
			continue
		}
		x, w := &sg.Tensors[op.Inputs[0]], &sg.Tensors[op.Inputs[1]]
		if x.Type == tensor.Float32 && (w.Type == tensor.Int8 || w.Type == tensor.UInt8) && w.Data != nil {
			return true
		}
	}
	return false
}

// shortMaxMACs: in -short mode (the emulated cross-architecture runs),
// models that need more multiply-accumulates than this per inference run
// one golden case and skip the batch and allocation checks, which the
// native runs cover.
const shortMaxMACs = 1e9

func heavyInShort(it *Interpreter) bool { return testing.Short() && it.MACs() > shortMaxMACs }

// TestInvokeAllocs checks that Invoke allocates nothing on every model,
// in both arithmetics.
func TestInvokeAllocs(t *testing.T) {
	suites, err := golden.Suites()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range suites {
		for _, a := range []Arithmetic{LiteRT, Reference} {
			t.Run(s.Name()+"/"+a.String(), func(t *testing.T) {
				if testing.Short() && a != LiteRT {
					// Allocation does not depend on the architecture:
					// the emulated runs check the default arithmetic.
					t.Skip("-short")
				}
				it := goldenInterpreter(t, s, &Options{Arithmetic: a})
				if heavyInShort(it) {
					t.Skip("a large model in -short mode (TestGolden runs it)")
				}
				runs := 3
				if testing.Short() {
					runs = 1
				}
				if n := testing.AllocsPerRun(runs, func() {
					if err := it.Invoke(); err != nil {
						t.Fatal(err)
					}
				}); n != 0 {
					t.Errorf("Invoke allocates %v times per run; want 0", n)
				}
			})
		}
	}
}

func BenchmarkInvoke(b *testing.B) {
	suites, err := golden.Suites()
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range suites {
		b.Run(s.Name(), func(b *testing.B) {
			m, err := LoadFile(s.ModelFile())
			if err != nil {
				b.Skip(err)
			}
			it, err := NewInterpreter(m, nil)
			if err != nil {
				b.Fatal(err)
			}
			ins, err := s.ReadInputs(&s.Cases[0])
			if err != nil {
				b.Fatal(err)
			}
			for i, in := range ins {
				copy(it.Input(i).Data, in)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := it.Invoke(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}

// checkDetections compares a detector's post-processed outputs (boxes,
// classes, scores, count) with the oracle's. A ±1 difference in the
// quantized scores upstream (XNNPACK's rounding) can reorder or swap weak
// detections, so element-wise tolerance is the wrong test: instead every
// confident oracle detection (score >= 0.5) must be found with the same
// class, a box with IoU >= 0.9 and a score within 4 quantized steps (the
// drift the reference arithmetic shows on deep models, at the scores'
// 1/256 scale); a moderate one (score >= 0.3) with the same class and
// score and IoU >= 0.75, since NMS may keep a neighbouring anchor.
func checkDetections(t *testing.T, s *golden.Suite, got, want [][]byte) {
	t.Helper()
	dec := func(outs [][]byte) (boxes, classes, scores []float64, n int) {
		var err error
		var count []float64
		if boxes, err = golden.Decode(tensor.Float32, outs[0]); err != nil {
			t.Fatal(err)
		}
		classes, _ = golden.Decode(tensor.Float32, outs[1])
		scores, _ = golden.Decode(tensor.Float32, outs[2])
		count, _ = golden.Decode(tensor.Float32, outs[3])
		return boxes, classes, scores, int(count[0])
	}
	gb, gc, gs, gn := dec(got)
	wb, wc, ws, wn := dec(want)
	if gn != wn {
		t.Errorf("num_detections = %d; oracle %d", gn, wn)
	}
	for i := 0; i < wn && i < len(ws); i++ {
		if ws[i] < 0.3 {
			continue
		}
		minIoU := 0.9
		if ws[i] < 0.5 {
			minIoU = 0.75
		}
		found := false
		for j := 0; j < gn && j < len(gs); j++ {
			if gc[j] == wc[i] && golden.IoU(gb[4*j:4*j+4], wb[4*i:4*i+4]) >= minIoU && math.Abs(gs[j]-ws[i]) <= 4.0/256 {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("oracle detection %d (class %g, score %g, box %v) has no match", i, wc[i], ws[i], wb[4*i:4*i+4])
		}
	}
}
