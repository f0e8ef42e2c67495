package tflite

import (
	"math"

	"github.com/edged-dev/edged/runtime/flexbuf"
	"github.com/edged-dev/edged/runtime/kernels"
)

func init() {
	registerCustom("TFLite_Detection_PostProcess", 1, prepareDetectionPostProcess)
}

func prepareDetectionPostProcess(n *node) (kernels.Kernel, error) {
	if err := n.wantIO(3, 3, 4); err != nil {
		return nil, err
	}
	p, err := detectionOptions(n.op.CustomOptions())
	if err != nil {
		return nil, err
	}
	return kernels.DetectionPostProcess(n.cfg, p, n.input(0), n.input(1), n.input(2), n.output(0), n.output(1), n.output(2), n.output(3))
}

// detectionOptions decodes the FlexBuffer map of options the way TFLite's
// Init does: absent keys read as 0 (false), except detections_per_class
// (100) and use_regular_nms (false).
func detectionOptions(custom []byte) (kernels.DetectionParams, error) {
	p := kernels.DetectionParams{DetectionsPerClass: 100}
	root, err := flexbuf.Root(custom)
	if err != nil {
		return p, malformedf("TFLite_Detection_PostProcess options: %v", err)
	}
	m, err := root.Map()
	if err != nil {
		return p, malformedf("TFLite_Detection_PostProcess options: %v", err)
	}
	ints := []struct {
		key string
		dst *int
	}{
		{"max_detections", &p.MaxDetections},
		{"max_classes_per_detection", &p.MaxClassesPerDetection},
		{"detections_per_class", &p.DetectionsPerClass},
		{"num_classes", &p.NumClasses},
	}
	for _, o := range ints {
		v, ok, err := m.Lookup(o.key)
		if err != nil {
			return p, malformedf("TFLite_Detection_PostProcess option %s: %v", o.key, err)
		}
		if !ok || v.IsNull() {
			continue
		}
		i, err := v.Int()
		if err != nil {
			return p, malformedf("TFLite_Detection_PostProcess option %s: %v", o.key, err)
		}
		if i < math.MinInt32 || i > math.MaxInt32 {
			return p, malformedf("TFLite_Detection_PostProcess option %s is %d; want an int32", o.key, i)
		}
		*o.dst = int(i)
	}
	floats := []struct {
		key string
		dst *float32
	}{
		{"nms_score_threshold", &p.ScoreThreshold},
		{"nms_iou_threshold", &p.IoUThreshold},
		{"y_scale", &p.YScale},
		{"x_scale", &p.XScale},
		{"h_scale", &p.HScale},
		{"w_scale", &p.WScale},
	}
	for _, o := range floats {
		v, err := m.Get(o.key)
		if err != nil {
			return p, malformedf("TFLite_Detection_PostProcess option %s: %v", o.key, err)
		}
		f, err := v.Float()
		if err != nil {
			return p, malformedf("TFLite_Detection_PostProcess option %s: %v", o.key, err)
		}
		*o.dst = float32(f)
	}
	v, err := m.Get("use_regular_nms")
	if err != nil {
		return p, malformedf("TFLite_Detection_PostProcess option use_regular_nms: %v", err)
	}
	if p.UseRegularNMS, err = v.Bool(); err != nil {
		return p, malformedf("TFLite_Detection_PostProcess option use_regular_nms: %v", err)
	}
	return p, nil
}
