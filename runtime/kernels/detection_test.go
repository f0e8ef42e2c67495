package kernels

import (
	"errors"
	"math"
	"testing"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// detT makes a tensor holding vals: []float32, []uint8 or []int8.
func detT(name string, shape []int, q *tensor.Quant, vals any) *tensor.Tensor {
	t := &tensor.Tensor{Name: name, Shape: shape, Quant: q}
	switch v := vals.(type) {
	case []float32:
		t.Type = tensor.Float32
		if len(v) > 0 {
			t.Data = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
		}
	case []uint8:
		t.Type = tensor.UInt8
		t.Data = v
	case []int8:
		t.Type = tensor.Int8
		if len(v) > 0 {
			t.Data = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v))
		}
	default:
		panic("detT: unsupported values")
	}
	return t
}

// detOutputs returns the four outputs, unshaped as in real SSD files.
func detOutputs() []*tensor.Tensor {
	return []*tensor.Tensor{
		{Name: "boxes", Type: tensor.Float32}, {Name: "classes", Type: tensor.Float32},
		{Name: "scores", Type: tensor.Float32}, {Name: "num", Type: tensor.Float32},
	}
}

// detBind allocates the outputs' data once their shapes are set.
func detBind(outs []*tensor.Tensor) {
	for _, o := range outs {
		f := make([]float32, o.NumElements())
		for i := range f {
			f[i] = 42 // stale data the kernel must overwrite
		}
		o.Data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f))
	}
}

// Three anchors (y, x, h, w) with zero encodings and unit scales decode to
// the anchors' own corners:
//
//	A0 (0.5, 0.5, 1, 1) -> [0, 0, 1, 1]
//	A1 (0.5, 0.6, 1, 1) -> [0, 0.1, 1, 1.1]   IoU(A0, A1) = 0.9 / 1.1 = 0.818
//	A2 (2.5, 2.5, 1, 1) -> [2, 2, 3, 3]       disjoint from both
var (
	detAnchors = []float32{0.5, 0.5, 1, 1, 0.5, 0.6, 1, 1, 2.5, 2.5, 1, 1}
	detBox     = [][4]float32{{0, 0, 1, 1}, {0, 0.1, 1, 1.1}, {2, 2, 3, 3}}
	// Scores per anchor: background, class 0, class 1.
	detScores = []float32{
		0, 0.9, 0.1,
		0, 0.8, 0.95,
		0, 0.3, 0.2,
	}
	detZeroBox = [4]float32{}
)

func detParams() DetectionParams {
	return DetectionParams{MaxDetections: 3, MaxClassesPerDetection: 1, DetectionsPerClass: 100,
		ScoreThreshold: 0.0, IoUThreshold: 0.5, NumClasses: 2, YScale: 1, XScale: 1, HScale: 1, WScale: 1}
}

type detWant struct {
	boxes   [][4]float32
	classes []float32
	scores  []float32
	num     float32
}

func TestDetectionPostProcess(t *testing.T) {
	tests := []struct {
		name    string
		p       func(p *DetectionParams)
		enc     []float32 // nil: zeros
		anchors []float32 // nil: detAnchors
		scores  []float32 // nil: detScores
		want    detWant
	}{
		{
			// Best class per anchor: A1 0.95 (class 1), A0 0.9, A2 0.3. A1
			// is kept and suppresses A0 (IoU 0.818 > 0.5); A2 is kept.
			name: "fast",
			want: detWant{boxes: [][4]float32{detBox[1], detBox[2], detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0.3, 0}, num: 2},
		},
		{
			// The score test is >=: A2's 0.3 survives a 0.3 threshold.
			name: "fast score threshold is inclusive",
			p:    func(p *DetectionParams) { p.ScoreThreshold = 0.3 },
			want: detWant{boxes: [][4]float32{detBox[1], detBox[2], detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0.3, 0}, num: 2},
		},
		{
			name: "fast score threshold drops A2",
			p:    func(p *DetectionParams) { p.ScoreThreshold = 0.31 },
			want: detWant{boxes: [][4]float32{detBox[1], detZeroBox, detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0, 0}, num: 1},
		},
		{
			name: "fast IoU threshold above 0.818 keeps A0",
			p:    func(p *DetectionParams) { p.IoUThreshold = 0.9 },
			want: detWant{boxes: [][4]float32{detBox[1], detBox[0], detBox[2]}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0.9, 0.3}, num: 3},
		},
		{
			name: "fast max detections 1",
			p:    func(p *DetectionParams) { p.MaxDetections = 1 },
			want: detWant{boxes: [][4]float32{detBox[1]}, classes: []float32{1}, scores: []float32{0.95}, num: 1},
		},
		{
			// Two classes per detection: slots 2d and 2d+1 hold the best and
			// second-best class of detection d.
			name: "fast two classes per detection",
			p:    func(p *DetectionParams) { p.MaxClassesPerDetection = 2 },
			want: detWant{
				boxes:   [][4]float32{detBox[1], detBox[1], detBox[2], detBox[2], detZeroBox, detZeroBox},
				classes: []float32{1, 0, 0, 1, 0, 0},
				scores:  []float32{0.95, 0.8, 0.3, 0.2, 0, 0},
				num:     2,
			},
		},
		{
			// More classes per detection than classes: the extra slot of
			// each detection stays empty.
			name: "fast three classes per detection of two",
			p:    func(p *DetectionParams) { p.MaxClassesPerDetection = 3; p.MaxDetections = 1 },
			want: detWant{boxes: [][4]float32{detBox[1], detBox[1], detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0.8, 0}, num: 1},
		},
		{
			// Class 0: A0 0.9 kept, A1 0.8 suppressed by A0, A2 0.3 kept.
			// Class 1: A1 0.95 kept, A0 suppressed, A2 0.2 kept. Top 3 of
			// all: A1/1 0.95, A0/0 0.9, A2/0 0.3.
			name: "regular",
			p:    func(p *DetectionParams) { p.UseRegularNMS = true },
			want: detWant{boxes: [][4]float32{detBox[1], detBox[0], detBox[2]}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0.9, 0.3}, num: 3},
		},
		{
			name: "regular max detections 5",
			p:    func(p *DetectionParams) { p.UseRegularNMS = true; p.MaxDetections = 5 },
			want: detWant{boxes: [][4]float32{detBox[1], detBox[0], detBox[2], detBox[2], detZeroBox},
				classes: []float32{1, 0, 0, 1, 0}, scores: []float32{0.95, 0.9, 0.3, 0.2, 0}, num: 4},
		},
		{
			// One detection per class: class 0 keeps A0, class 1 keeps A1.
			name: "regular one detection per class",
			p:    func(p *DetectionParams) { p.UseRegularNMS = true; p.DetectionsPerClass = 1 },
			want: detWant{boxes: [][4]float32{detBox[1], detBox[0], detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0.9, 0}, num: 2},
		},
		{
			// Without a background column, class c is column c.
			name:   "regular no background",
			p:      func(p *DetectionParams) { p.UseRegularNMS = true; p.NumClasses = 3 },
			scores: detScores,
			want:   detWant{boxes: [][4]float32{detBox[1], detBox[0], detBox[2]}, classes: []float32{2, 1, 1}, scores: []float32{0.95, 0.9, 0.3}, num: 3},
		},
		{
			// Equal scores on disjoint boxes: the lower anchor index first
			// (TFLite's stable sort).
			name:    "fast ties keep anchor order",
			anchors: []float32{2.5, 2.5, 1, 1, 0.5, 0.5, 1, 1, 4.5, 4.5, 1, 1},
			scores:  []float32{0, 0.5, 0, 0, 0.5, 0, 0, 0.5, 0},
			want: detWant{boxes: [][4]float32{{2, 2, 3, 3}, {0, 0, 1, 1}, {4, 4, 5, 5}}, classes: []float32{0, 0, 0},
				scores: []float32{0.5, 0.5, 0.5}, num: 3},
		},
		{
			// Ties between classes of one anchor: the lower class first.
			name:   "fast class ties",
			p:      func(p *DetectionParams) { p.MaxClassesPerDetection = 2; p.MaxDetections = 1 },
			scores: []float32{0, 0.5, 0.5, 0, 0.1, 0.1, 0, 0.1, 0.1},
			want:   detWant{boxes: [][4]float32{detBox[0], detBox[0]}, classes: []float32{0, 1}, scores: []float32{0.5, 0.5}, num: 1},
		},
		{
			// IoU([0,0,1,1], [0,0,1,0.5]) = 0.5 exactly: the suppression
			// test is >, so a 0.5 threshold keeps both.
			name:    "IoU equal to threshold keeps",
			anchors: []float32{0.5, 0.5, 1, 1, 0.5, 0.25, 1, 0.5, 2.5, 2.5, 1, 1},
			scores:  []float32{0, 0.9, 0, 0, 0.8, 0, 0, 0.7, 0},
			want: detWant{boxes: [][4]float32{{0, 0, 1, 1}, {0, 0, 1, 0.5}, {2, 2, 3, 3}}, classes: []float32{0, 0, 0},
				scores: []float32{0.9, 0.8, 0.7}, num: 3},
		},
		{
			// Encodings with SSD scales (10, 10, 5, 5) on anchor
			// (0.5, 0.5, 0.2, 0.4): y=1, x=-2, h=5 ln 2, w=0 give center
			// (0.5+0.1*0.2, 0.5-0.2*0.4) = (0.52, 0.42), half sizes
			// (0.5*2*0.2, 0.5*0.4) = (0.2, 0.2).
			name: "decode with scales",
			p: func(p *DetectionParams) {
				p.YScale, p.XScale, p.HScale, p.WScale = 10, 10, 5, 5
				p.MaxDetections = 1
			},
			enc:     []float32{1, -2, float32(5 * math.Ln2), 0, 0, 0, 0, 0, 0, 0, 0, 0},
			anchors: []float32{0.5, 0.5, 0.2, 0.4, 2.5, 2.5, 1, 1, 4.5, 4.5, 1, 1},
			scores:  []float32{0, 0.9, 0, 0, 0.1, 0, 0, 0.1, 0},
			want:    detWant{boxes: [][4]float32{{0.32, 0.22, 0.72, 0.62}}, classes: []float32{0}, scores: []float32{0.9}, num: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := detParams()
			if tc.p != nil {
				tc.p(&p)
			}
			enc := tc.enc
			if enc == nil {
				enc = make([]float32, 12)
			}
			anchors := tc.anchors
			if anchors == nil {
				anchors = detAnchors
			}
			scores := tc.scores
			if scores == nil {
				scores = detScores
			}
			ncwb := len(scores) / 3
			outs := detOutputs()
			k, err := DetectionPostProcess(&Config{}, p,
				detT("enc", []int{1, 3, 4}, nil, enc),
				detT("scores", []int{1, 3, ncwb}, nil, scores),
				detT("anchors", []int{3, 4}, nil, anchors),
				outs[0], outs[1], outs[2], outs[3])
			if err != nil {
				t.Fatal(err)
			}
			detRun(t, k, outs, p, tc.want)
		})
	}
}

// detRun checks the output shapes, evaluates k and compares the outputs.
func detRun(t *testing.T, k Kernel, outs []*tensor.Tensor, p DetectionParams, want detWant) {
	t.Helper()
	n := p.MaxDetections * p.MaxClassesPerDetection
	for i, ws := range [][]int{{1, n, 4}, {1, n}, {1, n}, {1}} {
		if !tensor.SameShape(outs[i].Shape, ws) {
			t.Fatalf("DetectionPostProcess output %d shape %v; want %v", i, outs[i].Shape, ws)
		}
	}
	detBind(outs)
	if err := k.Eval(); err != nil {
		t.Fatal(err)
	}
	if len(want.classes) != n {
		t.Fatalf("test wants %d detections; the kernel has %d slots", len(want.classes), n)
	}
	near := func(got, want float32) bool { return math.Abs(float64(got-want)) <= 1e-6+1e-6*math.Abs(float64(want)) }
	boxes, classes, scores := outs[0].Float32s(), outs[1].Float32s(), outs[2].Float32s()
	for d := 0; d < n; d++ {
		for c := 0; c < 4; c++ {
			if !near(boxes[d*4+c], want.boxes[d][c]) {
				t.Errorf("DetectionPostProcess boxes[%d][%d] = %g; want %g", d, c, boxes[d*4+c], want.boxes[d][c])
			}
		}
		if classes[d] != want.classes[d] {
			t.Errorf("DetectionPostProcess classes[%d] = %g; want %g", d, classes[d], want.classes[d])
		}
		if !near(scores[d], want.scores[d]) {
			t.Errorf("DetectionPostProcess scores[%d] = %g; want %g", d, scores[d], want.scores[d])
		}
	}
	if got := outs[3].Float32s()[0]; got != want.num {
		t.Errorf("DetectionPostProcess num_detections = %g; want %g", got, want.num)
	}
}

// TestDetectionQuantized runs the "fast" and "regular" cases above from
// quantized inputs, whose dequantized values are the same numbers.
func TestDetectionQuantized(t *testing.T) {
	// uint8: encodings (q-128)*0.5 with q=128 -> 0; anchors q*0.01;
	// scores q/256: 0.9->230.4 is not exact, so scores use multiples of
	// 1/256: A0 (0, 240, 16), A1 (0, 224, 250), A2 (0, 64, 48).
	u8Anchors := []uint8{50, 50, 100, 100, 50, 60, 100, 100, 250, 250, 100, 100}
	u8Scores := []uint8{0, 240, 16, 0, 224, 250, 0, 64, 48}
	// int8: encodings q*0.5 with q=0; anchors q*0.02; scores (q+128)/256.
	i8Anchors := []int8{25, 25, 50, 50, 25, 30, 50, 50, 125, 125, 50, 50}
	i8Scores := make([]int8, len(u8Scores))
	for i, s := range u8Scores {
		i8Scores[i] = int8(int(s) - 128)
	}
	q := func(s float32, zp int32) *tensor.Quant {
		return &tensor.Quant{Scale: []float32{s}, ZeroPoint: []int32{zp}}
	}
	tests := []struct {
		name                 string
		regular              bool
		enc, scores, anchors *tensor.Tensor
		want                 detWant
	}{
		{
			name:    "uint8 fast",
			enc:     detT("enc", []int{1, 3, 4}, q(0.5, 128), []uint8{128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128}),
			scores:  detT("scores", []int{1, 3, 3}, q(1.0/256, 0), u8Scores),
			anchors: detT("anchors", []int{3, 4}, q(0.01, 0), u8Anchors),
			want:    detWant{boxes: [][4]float32{detBox[1], detBox[2], detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{250.0 / 256, 64.0 / 256, 0}, num: 2},
		},
		{
			name:    "uint8 regular",
			regular: true,
			enc:     detT("enc", []int{1, 3, 4}, q(0.5, 128), []uint8{128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128}),
			scores:  detT("scores", []int{1, 3, 3}, q(1.0/256, 0), u8Scores),
			anchors: detT("anchors", []int{3, 4}, q(0.01, 0), u8Anchors),
			want:    detWant{boxes: [][4]float32{detBox[1], detBox[0], detBox[2]}, classes: []float32{1, 0, 0}, scores: []float32{250.0 / 256, 240.0 / 256, 64.0 / 256}, num: 3},
		},
		{
			name:    "int8 fast",
			enc:     detT("enc", []int{1, 3, 4}, q(0.5, 0), make([]int8, 12)),
			scores:  detT("scores", []int{1, 3, 3}, q(1.0/256, -128), i8Scores),
			anchors: detT("anchors", []int{3, 4}, q(0.02, 0), i8Anchors),
			want:    detWant{boxes: [][4]float32{detBox[1], detBox[2], detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{250.0 / 256, 64.0 / 256, 0}, num: 2},
		},
		{
			// Quantized encodings with float scores and anchors.
			name:    "uint8 encodings, float rest",
			enc:     detT("enc", []int{1, 3, 4}, q(0.5, 128), []uint8{128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128}),
			scores:  detT("scores", []int{1, 3, 3}, nil, detScores),
			anchors: detT("anchors", []int{3, 4}, nil, detAnchors),
			want:    detWant{boxes: [][4]float32{detBox[1], detBox[2], detZeroBox}, classes: []float32{1, 0, 0}, scores: []float32{0.95, 0.3, 0}, num: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := detParams()
			p.UseRegularNMS = tc.regular
			outs := detOutputs()
			k, err := DetectionPostProcess(&Config{}, p, tc.enc, tc.scores, tc.anchors, outs[0], outs[1], outs[2], outs[3])
			if err != nil {
				t.Fatal(err)
			}
			detRun(t, k, outs, p, tc.want)
		})
	}
}

func TestDetectionErrors(t *testing.T) {
	f := func(shape []int) *tensor.Tensor {
		return detT("t", shape, nil, make([]float32, tensor.NumElements(shape)))
	}
	tests := []struct {
		name                 string
		p                    func(p *DetectionParams)
		enc, scores, anchors *tensor.Tensor
		outType              tensor.DType
		unsupported          bool
	}{
		{name: "encodings rank 2", enc: f([]int{3, 4})},
		{name: "encodings batch 2", enc: f([]int{2, 3, 4})},
		{name: "encodings of 3 coordinates", enc: f([]int{1, 3, 3})},
		{name: "scores for other boxes", scores: f([]int{1, 4, 3})},
		{name: "anchors of 3 values", anchors: f([]int{3, 3})},
		{name: "too few anchors", anchors: f([]int{2, 4})},
		{name: "two background classes", p: func(p *DetectionParams) { p.NumClasses = 1 }},
		{name: "more classes than scores", p: func(p *DetectionParams) { p.NumClasses = 4 }},
		{name: "zero classes per detection", p: func(p *DetectionParams) { p.MaxClassesPerDetection = 0 }},
		{name: "negative max detections", p: func(p *DetectionParams) { p.MaxDetections = -1 }},
		{name: "huge outputs", p: func(p *DetectionParams) { p.MaxDetections = 1 << 30 }, unsupported: true},
		{name: "regular with zero per class", p: func(p *DetectionParams) { p.UseRegularNMS = true; p.DetectionsPerClass = 0 }},
		{name: "IoU threshold 0", p: func(p *DetectionParams) { p.IoUThreshold = 0 }},
		{name: "IoU threshold above 1", p: func(p *DetectionParams) { p.IoUThreshold = 1.5 }},
		{name: "IoU threshold NaN", p: func(p *DetectionParams) { p.IoUThreshold = float32(math.NaN()) }},
		{name: "int32 scores", scores: &tensor.Tensor{Name: "s", Type: tensor.Int32, Shape: []int{1, 3, 3}}, unsupported: true},
		{name: "uint8 scores without quantization", scores: detT("s", []int{1, 3, 3}, nil, make([]uint8, 9))},
		{name: "int32 output", outType: tensor.Int32, unsupported: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := detParams()
			if tc.p != nil {
				tc.p(&p)
			}
			enc, scores, anchors := tc.enc, tc.scores, tc.anchors
			if enc == nil {
				enc = f([]int{1, 3, 4})
			}
			if scores == nil {
				scores = f([]int{1, 3, 3})
			}
			if anchors == nil {
				anchors = detT("anchors", []int{3, 4}, nil, detAnchors)
			}
			outs := detOutputs()
			if tc.outType != tensor.Invalid {
				outs[1].Type = tc.outType
			}
			_, err := DetectionPostProcess(&Config{}, p, enc, scores, anchors, outs[0], outs[1], outs[2], outs[3])
			if err == nil {
				t.Fatal("DetectionPostProcess: no error")
			}
			if got := errors.Is(err, ErrUnsupported); got != tc.unsupported {
				t.Errorf("DetectionPostProcess error %q: errors.Is(ErrUnsupported) = %v; want %v", err, got, tc.unsupported)
			}
		})
	}
}

// TestDetectionInvertedBoxes: a negative anchor height decodes to
// ymin > ymax, which TFLite rejects at NMS time.
func TestDetectionInvertedBoxes(t *testing.T) {
	anchors := []float32{0.5, 0.5, -1, 1, 0.5, 0.6, 1, 1, 2.5, 2.5, 1, 1}
	for _, regular := range []bool{false, true} {
		p := detParams()
		p.UseRegularNMS = regular
		outs := detOutputs()
		k, err := DetectionPostProcess(&Config{}, p, detT("enc", []int{1, 3, 4}, nil, make([]float32, 12)),
			detT("scores", []int{1, 3, 3}, nil, detScores), detT("anchors", []int{3, 4}, nil, anchors), outs[0], outs[1], outs[2], outs[3])
		if err != nil {
			t.Fatal(err)
		}
		detBind(outs)
		if err := k.Eval(); err == nil {
			t.Errorf("DetectionPostProcess(regular=%v) Eval with inverted boxes: no error", regular)
		}
	}
}

// TestDetectionAllocs: Eval allocates nothing, on both paths and with
// quantized inputs.
func TestDetectionAllocs(t *testing.T) {
	const boxes, classes = 64, 6
	enc := make([]uint8, boxes*4)
	anchors := make([]uint8, boxes*4)
	scores := make([]uint8, boxes*(classes+1))
	for i := range enc {
		enc[i] = uint8(100 + i*7%50)
	}
	for i := 0; i < boxes; i++ {
		copy(anchors[i*4:], []uint8{uint8(i * 4), uint8(255 - i*4), 30, 40})
	}
	for i := range scores {
		scores[i] = uint8(i * 37 % 256)
	}
	q := func(s float32, zp int32) *tensor.Quant {
		return &tensor.Quant{Scale: []float32{s}, ZeroPoint: []int32{zp}}
	}
	for _, regular := range []bool{false, true} {
		p := DetectionParams{MaxDetections: 10, MaxClassesPerDetection: 2, DetectionsPerClass: 5, UseRegularNMS: regular,
			ScoreThreshold: 0.1, IoUThreshold: 0.4, NumClasses: classes, YScale: 10, XScale: 10, HScale: 5, WScale: 5}
		outs := detOutputs()
		k, err := DetectionPostProcess(&Config{}, p, detT("enc", []int{1, boxes, 4}, q(0.05, 128), enc),
			detT("scores", []int{1, boxes, classes + 1}, q(1.0/256, 0), scores), detT("anchors", []int{boxes, 4}, q(1.0/256, 0), anchors),
			outs[0], outs[1], outs[2], outs[3])
		if err != nil {
			t.Fatal(err)
		}
		detBind(outs)
		if a := testing.AllocsPerRun(5, func() {
			if err := k.Eval(); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("DetectionPostProcess(regular=%v) Eval allocates %v times; want 0", regular, a)
		}
		if n := outs[3].Float32s()[0]; n < 1 {
			t.Errorf("DetectionPostProcess(regular=%v) found %g detections; want some", regular, n)
		}
	}
}

func TestArgSortDesc(t *testing.T) {
	tests := []struct {
		name   string
		values []float32
		want   []int32
	}{
		{"empty", nil, []int32{}},
		{"one", []float32{3}, []int32{0}},
		{"descending", []float32{3, 2, 1}, []int32{0, 1, 2}},
		{"ascending", []float32{1, 2, 3}, []int32{2, 1, 0}},
		{"ties keep order", []float32{1, 5, 1, 5, 1, 5, 0}, []int32{1, 3, 5, 0, 2, 4, 6}},
		{"odd length runs", []float32{0.1, 0.9, 0.5, 0.9, 0.3, 0.5, 0.7, 0.2, 0.9}, []int32{1, 3, 8, 6, 2, 5, 4, 7, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idx := make([]int32, len(tc.values))
			argSortDesc(tc.values, idx, make([]int32, len(tc.values)))
			for i := range tc.want {
				if idx[i] != tc.want[i] {
					t.Fatalf("argSortDesc(%v) = %v; want %v", tc.values, idx, tc.want)
				}
			}
		})
	}
}

func TestTopK(t *testing.T) {
	values := []float32{0.2, 0.9, 0.2, 0.9, 0.5}
	tests := []struct {
		k    int
		want []int32
	}{
		{1, []int32{1}},
		{2, []int32{1, 3}},
		{3, []int32{1, 3, 4}},
		{5, []int32{1, 3, 4, 0, 2}},
	}
	for _, tc := range tests {
		top := make([]int32, tc.k)
		topK(values, top)
		for i := range tc.want {
			if top[i] != tc.want[i] {
				t.Errorf("topK(%v, %d) = %v; want %v", values, tc.k, top, tc.want)
				break
			}
		}
	}
}
