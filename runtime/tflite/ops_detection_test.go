package tflite

// Tests of ops_detection.go: option decoding, output shapes set at prepare
// time, and differential generators (see diff_test.go) for
// TFLite_Detection_PostProcess.

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/flexbuf"
	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	addDiffGen("TFLite_Detection_PostProcess/ssd_uint8", genDetectionSSD)
	addDiffGen("TFLite_Detection_PostProcess/fast_float32", genDetection(false, tensor.Float32))
	addDiffGen("TFLite_Detection_PostProcess/regular_float32", genDetection(true, tensor.Float32))
	addDiffGen("TFLite_Detection_PostProcess/fast_uint8", genDetection(false, tensor.UInt8))
	addDiffGen("TFLite_Detection_PostProcess/regular_uint8", genDetection(true, tensor.UInt8))
}

func TestDetectionOptions(t *testing.T) {
	full := map[string]any{
		"max_detections": 10, "max_classes_per_detection": 2, "detections_per_class": 7, "use_regular_nms": true,
		"nms_score_threshold": float32(0.25), "nms_iou_threshold": 0.5, "num_classes": 90,
		"y_scale": 10.0, "x_scale": float32(10), "h_scale": 5, "w_scale": 5.0,
	}
	tests := []struct {
		name    string
		opts    any
		want    kernels.DetectionParams
		wantErr bool
	}{
		{name: "all keys", opts: full, want: kernels.DetectionParams{MaxDetections: 10, MaxClassesPerDetection: 2, DetectionsPerClass: 7,
			UseRegularNMS: true, ScoreThreshold: 0.25, IoUThreshold: 0.5, NumClasses: 90, YScale: 10, XScale: 10, HScale: 5, WScale: 5}},
		// TFLite's defaults: 100 detections per class, fast NMS; every
		// other absent key reads as 0.
		{name: "defaults", opts: map[string]any{"max_detections": 3, "nms_iou_threshold": 0.6},
			want: kernels.DetectionParams{MaxDetections: 3, DetectionsPerClass: 100, IoUThreshold: 0.6}},
		{name: "null detections_per_class", opts: map[string]any{"detections_per_class": nil},
			want: kernels.DetectionParams{DetectionsPerClass: 100}},
		{name: "uint and bool conversions", opts: map[string]any{"max_detections": uint8(5), "use_regular_nms": 1, "num_classes": true},
			want: kernels.DetectionParams{MaxDetections: 5, DetectionsPerClass: 100, UseRegularNMS: true, NumClasses: 1}},
		{name: "float max_detections truncates", opts: map[string]any{"max_detections": 4.75},
			want: kernels.DetectionParams{MaxDetections: 4, DetectionsPerClass: 100}},
		{name: "not a map", opts: []any{1, 2}, wantErr: true},
		{name: "string max_detections", opts: map[string]any{"max_detections": "10"}, wantErr: true},
		{name: "max_detections beyond int32", opts: map[string]any{"max_detections": int64(1) << 40}, wantErr: true},
		{name: "vector y_scale", opts: map[string]any{"y_scale": []any{1}}, wantErr: true},
		{name: "empty", opts: nil, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf []byte
			if tc.opts != nil {
				var err error
				if buf, err = flexbuf.Encode(tc.opts); err != nil {
					t.Fatal(err)
				}
			}
			got, err := detectionOptions(buf)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("detectionOptions(%v) = %+v, %v; want an ErrMalformed error", tc.opts, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("detectionOptions(%v) = %+v; want %+v", tc.opts, got, tc.want)
			}
		})
	}
}

// detectionModel writes a float model of one TFLite_Detection_PostProcess
// with inputs (encodings, scores) and constant anchors. With unshaped, the
// outputs have no shape, as in older SSD exports.
func detectionModel(opts map[string]any, boxes, withBg int, anchors []float32, unshaped bool) ([]byte, error) {
	custom, err := flexbuf.Encode(opts)
	if err != nil {
		return nil, err
	}
	b := tflitetest.NewBuilder()
	enc := b.Tensor("box_encodings", tensor.Float32, []int{1, boxes, 4}, nil, nil)
	scores := b.Tensor("class_predictions", tensor.Float32, []int{1, boxes, withBg}, nil, nil)
	anc := b.Const("anchors", tensor.Float32, []int{boxes, 4}, nil, tflitetest.Float32Bytes(anchors))
	n := opts["max_detections"].(int) * opts["max_classes_per_detection"].(int)
	shapes := [][]int{{1, n, 4}, {1, n}, {1, n}, {1}}
	names := []string{"TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1", "TFLite_Detection_PostProcess:2", "TFLite_Detection_PostProcess:3"}
	outs := make([]int, 4)
	for i := range outs {
		var s []int
		if !unshaped {
			s = shapes[i]
		}
		outs[i] = b.Tensor(names[i], tensor.Float32, s, nil, nil)
	}
	b.Custom("TFLite_Detection_PostProcess", 1, []int{enc, scores, anc}, outs, custom)
	b.Inputs(enc, scores)
	b.Outputs(outs...)
	return b.Bytes()
}

// TestDetectionUnshapedOutputs: the kernel sets the outputs' shapes at
// prepare time. Three anchors with zero encodings decode to their own
// corners: [0,0,1,1], [0,0.1,1,1.1] (IoU 0.818 with the first) and
// [2,2,3,3]. Best scores: anchor 1 (0.95, class 1) suppresses anchor 0
// (0.9); anchor 2 (0.3, class 0) is kept.
func TestDetectionUnshapedOutputs(t *testing.T) {
	opts := map[string]any{"max_detections": 3, "max_classes_per_detection": 1, "nms_score_threshold": 0.0,
		"nms_iou_threshold": 0.5, "num_classes": 2, "y_scale": 1.0, "x_scale": 1.0, "h_scale": 1.0, "w_scale": 1.0}
	data, err := detectionModel(opts, 3, 3, []float32{0.5, 0.5, 1, 1, 0.5, 0.6, 1, 1, 2.5, 2.5, 1, 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range m.Subgraphs[0].Outputs {
		if s := m.Subgraphs[0].Tensors[o].Shape; s != nil {
			t.Fatalf("output %d has shape %v in the file; the test wants none", o, s)
		}
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(it.Input(0).Data, tflitetest.Float32Bytes(make([]float32, 12)))
	copy(it.Input(1).Data, tflitetest.Float32Bytes([]float32{0, 0.9, 0.1, 0, 0.8, 0.95, 0, 0.3, 0.2}))
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	want := [][]float32{
		{0, 0.1, 1, 1.1, 2, 2, 3, 3, 0, 0, 0, 0},
		{1, 0, 0},
		{0.95, 0.3, 0},
		{2},
	}
	wantShapes := [][]int{{1, 3, 4}, {1, 3}, {1, 3}, {1}}
	for k := range want {
		o := it.Output(k)
		if !tensor.SameShape(o.Shape, wantShapes[k]) {
			t.Fatalf("output %d shape %v; want %v", k, o.Shape, wantShapes[k])
		}
		for i, w := range want[k] {
			if g := o.Float32s()[i]; g-w > 1e-6 || w-g > 1e-6 {
				t.Errorf("Invoke(TFLite_Detection_PostProcess) output %d[%d] = %g; want %g", k, i, g, w)
			}
		}
	}
}

// ssdDetection holds the anchors and options of the post-processing op of
// testdata/models/ssd_mobilenet_v1_coco_quant_detect.tflite.
var ssdDetection struct {
	once    sync.Once
	err     error
	anchors TensorInfo
	custom  []byte
}

func loadSSDDetection() error {
	ssdDetection.once.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			ssdDetection.err = err
			return
		}
		data, err := os.ReadFile(filepath.Join(root, "testdata", "models", "ssd_mobilenet_v1_coco_quant_detect.tflite"))
		if err != nil {
			ssdDetection.err = err
			return
		}
		m, err := Decode(data)
		if err != nil {
			ssdDetection.err = err
			return
		}
		sg := m.Subgraphs[0]
		for i := range sg.Operators {
			op := &sg.Operators[i]
			if m.OpName(op) == "TFLite_Detection_PostProcess" {
				ssdDetection.anchors = sg.Tensors[op.Inputs[2]]
				ssdDetection.custom = op.CustomOptions()
				return
			}
		}
		ssdDetection.err = errors.New("no TFLite_Detection_PostProcess in the SSD model")
	})
	return ssdDetection.err
}

// genDetectionSSD: the SSD model's own post-processing (1917 uint8
// anchors, 90 classes + background, its options) on random uint8
// encodings and scores. Quantized scores tie often, which exercises the
// order of equal scores.
func genDetectionSSD(r *rand.Rand) ([]byte, [][]byte, error) {
	if err := loadSSDDetection(); err != nil {
		return nil, nil, err
	}
	a := ssdDetection.anchors
	boxes := a.Shape[0]
	b := tflitetest.NewBuilder()
	enc := b.Tensor("box_encodings", tensor.UInt8, []int{1, boxes, 4}, &tensor.Quant{Scale: []float32{0.079027876}, ZeroPoint: []int32{191}}, nil)
	scores := b.Tensor("class_predictions", tensor.UInt8, []int{1, boxes, 91}, &tensor.Quant{Scale: []float32{1.0 / 256}, ZeroPoint: []int32{0}}, nil)
	anc := b.Const("anchors", tensor.UInt8, a.Shape, a.Quant, a.Data)
	outs := detectionOutputs(b, 10)
	b.Custom("TFLite_Detection_PostProcess", 1, []int{enc, scores, anc}, outs, ssdDetection.custom)
	b.Inputs(enc, scores)
	b.Outputs(outs...)
	model, err := b.Bytes()
	// Encodings near the zero point (small offsets); scores mostly low
	// with a few high ones, as after a sigmoid.
	encBytes := make([]byte, boxes*4)
	for i := range encBytes {
		encBytes[i] = byte(diffInt(r, 160, 220))
	}
	scoreBytes := make([]byte, boxes*91)
	for i := range scoreBytes {
		if r.IntN(50) == 0 {
			scoreBytes[i] = byte(r.IntN(256))
		} else {
			scoreBytes[i] = byte(r.IntN(8))
		}
	}
	return model, [][]byte{encBytes, scoreBytes}, err
}

func detectionOutputs(b *tflitetest.Builder, n int) []int {
	return []int{
		b.Tensor("TFLite_Detection_PostProcess", tensor.Float32, []int{1, n, 4}, nil, nil),
		b.Tensor("TFLite_Detection_PostProcess:1", tensor.Float32, []int{1, n}, nil, nil),
		b.Tensor("TFLite_Detection_PostProcess:2", tensor.Float32, []int{1, n}, nil, nil),
		b.Tensor("TFLite_Detection_PostProcess:3", tensor.Float32, []int{1}, nil, nil),
	}
}

// genDetection draws a small post-processing op: 1 to 8 classes with or
// without background, extra encoding coordinates, random scales and
// thresholds, and anchors in two groups: up to 50 overlapping ones (NMS
// suppresses some) and, for fast NMS, MaxDetections isolated ones far from
// everything with a score above the threshold. TFLite's fast NMS leaves
// output slots past the detections unwritten (the oracle returns whatever
// its arena held), so the isolated anchors make sure every slot is
// written. Scores are distinct (float) or drawn without repeats
// (quantized), because TFLite's partial sorts leave ties in an unspecified
// order.
func genDetection(regular bool, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		classes := diffInt(r, 1, 8)
		withBg := classes + diffInt(r, 0, 1)
		coords := diffPick(r, 4, 4, 6, 10)
		maxDet := diffInt(r, 1, 12)
		maxCls, isolated := 1, 0
		if !regular {
			maxCls = diffInt(r, 1, min(3, classes))
			isolated = maxDet
		}
		overlapping := diffInt(r, 1, 50)
		if dt != tensor.Float32 {
			// Distinct quantized scores: boxes × classes <= 256.
			overlapping = max(1, min(overlapping, 256/withBg-isolated))
		}
		boxes := overlapping + isolated
		opts := map[string]any{
			"max_detections": maxDet, "max_classes_per_detection": maxCls, "use_regular_nms": regular,
			"nms_score_threshold": float32(diffPick(r, 0, 1e-8, 0.1, 0.3, 0.5)),
			"nms_iou_threshold":   float32(diffPick(r, 0.1, 0.3, 0.5, 0.6, 1.0)),
			"num_classes":         classes,
			"y_scale":             float32(diffPick(r, 1, 10)), "x_scale": float32(diffPick(r, 1, 10)),
			"h_scale": float32(diffPick(r, 1, 5)), "w_scale": float32(diffPick(r, 1, 5)),
		}
		if regular {
			opts["detections_per_class"] = diffInt(r, 1, 10)
		}
		custom, err := flexbuf.Encode(opts)
		if err != nil {
			return nil, nil, err
		}
		bg := withBg - classes
		b := tflitetest.NewBuilder()
		var encQ, scoreQ, ancQ *tensor.Quant
		var encBytes, scoreBytes, ancBytes []byte
		switch dt {
		case tensor.Float32:
			// |encoding| <= 2 and anchor sizes <= 0.6 keep a decoded box
			// within 3.4 of its anchor's center; isolated centers are 10
			// apart, from (10, 10).
			enc := make([]float32, boxes*coords)
			for i := range enc {
				enc[i] = float32(r.Float64()*4 - 2)
			}
			anc := make([]float32, boxes*4)
			sc := make([]float32, boxes*withBg)
			for i := 0; i < boxes; i++ {
				anc[i*4], anc[i*4+1] = float32(r.Float64()), float32(r.Float64())
				if k := i - overlapping; k >= 0 {
					anc[i*4], anc[i*4+1] = float32(10+10*k), float32(10+10*k)
				}
				anc[i*4+2], anc[i*4+3] = float32(diffLogUniform(r, 0.05, 0.6)), float32(diffLogUniform(r, 0.05, 0.6))
				for c := 0; c < withBg; c++ {
					sc[i*withBg+c] = float32(r.Float64())
				}
				if i >= overlapping {
					sc[i*withBg+bg] = float32(0.5 + r.Float64()/2)
				}
			}
			encBytes, ancBytes, scoreBytes = tflitetest.Float32Bytes(enc), tflitetest.Float32Bytes(anc), tflitetest.Float32Bytes(sc)
		case tensor.UInt8:
			// |encoding| <= 10 × 0.1 = 1 and anchor sizes <= 0.6 keep a
			// decoded box within 1.42 of its anchor's center. Anchors
			// step 0.2: overlapping centers in [0, 1], isolated ones 3
			// apart from 4.
			encQ = &tensor.Quant{Scale: []float32{float32(diffLogUniform(r, 0.02, 0.1))}, ZeroPoint: []int32{int32(diffInt(r, 100, 150))}}
			ancQ = &tensor.Quant{Scale: []float32{0.2}, ZeroPoint: []int32{0}}
			scoreQ = &tensor.Quant{Scale: []float32{1.0 / 256}, ZeroPoint: []int32{0}}
			encBytes = make([]byte, boxes*coords)
			for i := range encBytes {
				encBytes[i] = byte(int(encQ.ZeroPoint[0]) + diffInt(r, -10, 10))
			}
			ancBytes = make([]byte, boxes*4)
			for i := 0; i < boxes; i++ {
				ancBytes[i*4], ancBytes[i*4+1] = byte(r.IntN(6)), byte(r.IntN(6))
				if k := i - overlapping; k >= 0 {
					ancBytes[i*4], ancBytes[i*4+1] = byte(20+15*k), byte(20+15*k)
				}
				ancBytes[i*4+2], ancBytes[i*4+3] = byte(diffInt(r, 1, 3)), byte(diffInt(r, 1, 3))
			}
			// Scores without repeats; isolated boxes get one from the
			// upper half (>= 0.5) for their first class.
			perm := r.Perm(256)
			var high, rest []int
			for _, v := range perm {
				if v >= 128 && len(high) < isolated {
					high = append(high, v)
				} else {
					rest = append(rest, v)
				}
			}
			scoreBytes = make([]byte, boxes*withBg)
			for i := range scoreBytes {
				if box, c := i/withBg, i%withBg; box >= overlapping && c == bg {
					scoreBytes[i], high = byte(high[0]), high[1:]
				} else {
					scoreBytes[i], rest = byte(rest[0]), rest[1:]
				}
			}
		}
		enc := b.Tensor("box_encodings", dt, []int{1, boxes, coords}, encQ, nil)
		scores := b.Tensor("class_predictions", dt, []int{1, boxes, withBg}, scoreQ, nil)
		anc := b.Const("anchors", dt, []int{boxes, 4}, ancQ, ancBytes)
		outs := detectionOutputs(b, maxDet*maxCls)
		b.Custom("TFLite_Detection_PostProcess", 1, []int{enc, scores, anc}, outs, custom)
		b.Inputs(enc, scores)
		b.Outputs(outs...)
		model, err := b.Bytes()
		return model, [][]byte{encBytes, scoreBytes}, err
	}
}
