package drift

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// personDetectInfer is person_detect's inference time on the development
// machine (1–2 ms); the benchmarks report their cost as a share of it.
const personDetectInfer = 1.5e6 // ns

var (
	personDetectInput = infer.TensorSpec{Name: "input", DType: tensor.Int8, Shape: []int{1, 96, 96, 1},
		Quantized: true, Scale: 1.0 / 255, ZeroPoint: -128}
	vector10Input = infer.TensorSpec{Name: "input", DType: tensor.Float32, Shape: []int{1, 10}}
)

// benchSetup profiles n random samples of spec and returns the extractor,
// the profile and a few samples.
func benchSetup(b *testing.B, spec infer.TensorSpec, labels []string) (*Extractor, *Profile, [][]byte) {
	b.Helper()
	e, err := NewExtractor("input", spec)
	if err != nil {
		b.Fatal(err)
	}
	pr, err := NewProfiler(e.Features(), labels, nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	size := tensor.NumElements(spec.Shape) * spec.DType.Size()
	samples := make([][]byte, 64)
	for i := range samples {
		samples[i] = make([]byte, size)
		if spec.DType == tensor.Float32 {
			copy(samples[i], f32bytes(func() []float32 {
				v := make([]float32, size/4)
				for j := range v {
					v[j] = float32(rng.NormFloat64())
				}
				return v
			}()...))
		} else {
			for j := range samples[i] {
				samples[i][j] = byte(rng.IntN(256))
			}
		}
	}
	var x []float64
	for i := range 2000 {
		x, _ = e.Extract(x[:0], samples[i%len(samples)])
		class := NoClass
		if labels != nil {
			class = i % len(labels)
		}
		if err := pr.Add(x, class); err != nil {
			b.Fatal(err)
		}
	}
	p, err := pr.Profile()
	if err != nil {
		b.Fatal(err)
	}
	return e, p, samples
}

// benchAdd measures what the agent pays per inference: extract features
// from the input tensor and add them to the detector's window, with the
// window reports (every 1000 samples) amortized in.
func benchAdd(b *testing.B, spec infer.TensorSpec, labels []string) {
	e, p, samples := benchSetup(b, spec, labels)
	d, err := NewDetector("m", p, nil)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float64, 0, len(e.Features()))
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	class := NoClass
	if labels != nil {
		class = 0
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x, _ = e.Extract(x[:0], samples[i%len(samples)])
		if _, err := d.Add(t0, x, class); err != nil {
			b.Fatal(err)
		}
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(100*ns/personDetectInfer, "%infer")
}

func BenchmarkAddPersonDetect(b *testing.B) {
	benchAdd(b, personDetectInput, []string{"no person", "person"})
}
func BenchmarkAddVector10(b *testing.B) { benchAdd(b, vector10Input, []string{"a", "b", "c"}) }

// benchReport measures computing one window's scores against the
// profile, the work done once per window.
func benchReport(b *testing.B, spec infer.TensorSpec, labels []string) {
	e, p, samples := benchSetup(b, spec, labels)
	w, err := NewWindow(p)
	if err != nil {
		b.Fatal(err)
	}
	var x []float64
	for i := range 1000 {
		x, _ = e.Extract(x[:0], samples[i%len(samples)])
		if err := w.Add(x, i%len(labels)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Compare(p, w)
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/float64(DefaultConfig.MaxSamples), "ns/sample-amortized")
}

func BenchmarkReportPersonDetect(b *testing.B) {
	benchReport(b, personDetectInput, []string{"no person", "person"})
}
func BenchmarkReportVector10(b *testing.B) { benchReport(b, vector10Input, []string{"a", "b", "c"}) }

// BenchmarkExtractPersonDetect is the feature extraction alone: one pass
// over a 96×96×1 int8 frame.
func BenchmarkExtractPersonDetect(b *testing.B) {
	e, _, samples := benchSetup(b, personDetectInput, nil)
	x := make([]float64, 0, 2)
	for i := 0; b.Loop(); i++ {
		x, _ = e.Extract(x[:0], samples[i%len(samples)])
	}
	b.ReportMetric(float64(96*96)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpixel/s")
}
