package kernels

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Float convolutions of real models, one thread: the achieved FLOP/s
// (2 per multiply-add) and their share of this CPU's FMA peak
// (BenchmarkFMAPeak), per model (every CONV_2D and DEPTHWISE_CONV_2D of
// the model, as many times as it has them, each timed after a first run
// that brings its operands into the caches) and per shape:
//
//	go test -run '^$' -bench 'FloatConvModels' ./runtime/kernels/
//	go test -run '^$' -bench 'FloatConvShapes/pose_detection' -benchtime 200x ./runtime/kernels/
//
// The shapes are those of the models' float operators (MediaPipe pose,
// palm, face, hand, iris and KNIFT models, DeepLab v3): input [batch, h, w,
// c], filter fh×fw, output channels, stride and padding (the explicit PAD
// some models put before a strided convolution is in the input size).
// Activations are none, weights and inputs random (the time does not
// depend on them); the arithmetic is LiteRT, the runtime's default.

type floatConvShape struct {
	model                string
	depthwise            bool
	batch, h, w, c       int
	fh, fw, outC, stride int
	pad                  Padding
	count                int // operators of this shape in the model
}

func (s floatConvShape) String() string {
	kind := "conv"
	if s.depthwise {
		kind = "dw"
	}
	return fmt.Sprintf("%s/%s-%dx%dx%dx%d-f%dx%d-o%d-s%d", s.model, kind, s.batch, s.h, s.w, s.c, s.fh, s.fw, s.outC, s.stride)
}

var floatConvShapes = []floatConvShape{
	{"pose_detection", false, 1, 226, 226, 3, 3, 3, 24, 2, PaddingValid, 1},
	{"pose_detection", true, 1, 112, 112, 24, 3, 3, 24, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 112, 112, 24, 1, 1, 16, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 112, 112, 16, 1, 1, 64, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 114, 114, 64, 3, 3, 64, 2, PaddingValid, 1},
	{"pose_detection", false, 1, 56, 56, 64, 1, 1, 24, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 56, 56, 24, 1, 1, 144, 1, PaddingSame, 2},
	{"pose_detection", true, 1, 56, 56, 144, 3, 3, 144, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 56, 56, 144, 1, 1, 24, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 60, 60, 144, 5, 5, 144, 2, PaddingValid, 1},
	{"pose_detection", false, 1, 28, 28, 144, 1, 1, 40, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 28, 28, 40, 1, 1, 240, 1, PaddingSame, 2},
	{"pose_detection", true, 1, 28, 28, 240, 5, 5, 240, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 28, 28, 240, 1, 1, 40, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 28, 28, 40, 3, 3, 40, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 28, 28, 40, 1, 1, 96, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 30, 30, 240, 3, 3, 240, 2, PaddingValid, 1},
	{"pose_detection", false, 1, 14, 14, 240, 1, 1, 80, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 14, 14, 80, 1, 1, 480, 1, PaddingSame, 3},
	{"pose_detection", true, 1, 14, 14, 480, 3, 3, 480, 1, PaddingSame, 2},
	{"pose_detection", false, 1, 14, 14, 480, 1, 1, 80, 1, PaddingSame, 2},
	{"pose_detection", true, 1, 14, 14, 480, 5, 5, 480, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 14, 14, 480, 1, 1, 112, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 14, 14, 112, 1, 1, 672, 1, PaddingSame, 3},
	{"pose_detection", true, 1, 14, 14, 672, 5, 5, 672, 1, PaddingSame, 2},
	{"pose_detection", false, 1, 14, 14, 672, 1, 1, 112, 1, PaddingSame, 2},
	{"pose_detection", true, 1, 14, 14, 112, 3, 3, 112, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 14, 14, 112, 1, 1, 192, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 18, 18, 672, 5, 5, 672, 2, PaddingValid, 1},
	{"pose_detection", false, 1, 7, 7, 672, 1, 1, 192, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 7, 7, 192, 1, 1, 1152, 1, PaddingSame, 4},
	{"pose_detection", true, 1, 7, 7, 1152, 5, 5, 1152, 1, PaddingSame, 3},
	{"pose_detection", false, 1, 7, 7, 1152, 1, 1, 192, 1, PaddingSame, 3},
	{"pose_detection", true, 1, 7, 7, 1152, 3, 3, 1152, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 14, 14, 1152, 1, 1, 192, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 14, 14, 192, 3, 3, 192, 1, PaddingSame, 2},
	{"pose_detection", false, 1, 14, 14, 192, 1, 1, 192, 1, PaddingSame, 2},
	{"pose_detection", false, 1, 28, 28, 192, 1, 1, 96, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 28, 28, 96, 3, 3, 96, 1, PaddingSame, 2},
	{"pose_detection", false, 1, 28, 28, 96, 1, 1, 96, 1, PaddingSame, 2},
	{"pose_detection", true, 1, 58, 58, 24, 3, 3, 24, 2, PaddingValid, 2},
	{"pose_detection", false, 1, 28, 28, 24, 1, 1, 2, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 28, 28, 24, 1, 1, 24, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 30, 30, 48, 3, 3, 48, 2, PaddingValid, 2},
	{"pose_detection", false, 1, 14, 14, 48, 1, 1, 2, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 14, 14, 48, 1, 1, 24, 1, PaddingSame, 1},
	{"pose_detection", true, 1, 16, 16, 288, 3, 3, 288, 2, PaddingValid, 2},
	{"pose_detection", false, 1, 7, 7, 288, 1, 1, 6, 1, PaddingSame, 1},
	{"pose_detection", false, 1, 7, 7, 288, 1, 1, 72, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 258, 258, 3, 3, 3, 24, 2, PaddingValid, 1},
	{"pose_landmark_lite", true, 1, 128, 128, 24, 3, 3, 24, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 128, 128, 24, 1, 1, 8, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 128, 128, 8, 1, 1, 32, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 128, 128, 8, 3, 3, 8, 1, PaddingSame, 3},
	{"pose_landmark_lite", false, 1, 128, 128, 8, 1, 1, 8, 1, PaddingSame, 3},
	{"pose_landmark_lite", true, 1, 130, 130, 32, 3, 3, 32, 2, PaddingValid, 1},
	{"pose_landmark_lite", false, 1, 64, 64, 32, 1, 1, 16, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 64, 64, 16, 1, 1, 96, 1, PaddingSame, 2},
	{"pose_landmark_lite", true, 1, 64, 64, 96, 3, 3, 96, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 64, 64, 96, 1, 1, 16, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 64, 64, 16, 3, 3, 16, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 64, 64, 16, 1, 1, 32, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 68, 68, 96, 5, 5, 96, 2, PaddingValid, 1},
	{"pose_landmark_lite", false, 1, 32, 32, 96, 1, 1, 24, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 32, 32, 24, 1, 1, 144, 1, PaddingSame, 2},
	{"pose_landmark_lite", true, 1, 32, 32, 144, 5, 5, 144, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 32, 32, 144, 1, 1, 24, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 32, 32, 24, 3, 3, 24, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 32, 32, 24, 1, 1, 32, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 34, 34, 144, 3, 3, 144, 2, PaddingValid, 1},
	{"pose_landmark_lite", false, 1, 16, 16, 144, 1, 1, 40, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 16, 16, 40, 1, 1, 240, 1, PaddingSame, 3},
	{"pose_landmark_lite", true, 1, 16, 16, 240, 3, 3, 240, 1, PaddingSame, 2},
	{"pose_landmark_lite", false, 1, 16, 16, 240, 1, 1, 40, 1, PaddingSame, 2},
	{"pose_landmark_lite", true, 1, 16, 16, 240, 5, 5, 240, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 16, 16, 240, 1, 1, 56, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 16, 16, 56, 1, 1, 336, 1, PaddingSame, 3},
	{"pose_landmark_lite", true, 1, 16, 16, 336, 5, 5, 336, 1, PaddingSame, 2},
	{"pose_landmark_lite", false, 1, 16, 16, 336, 1, 1, 56, 1, PaddingSame, 2},
	{"pose_landmark_lite", true, 1, 16, 16, 56, 3, 3, 56, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 16, 16, 56, 1, 1, 32, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 20, 20, 336, 5, 5, 336, 2, PaddingValid, 1},
	{"pose_landmark_lite", false, 1, 8, 8, 336, 1, 1, 96, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 8, 8, 96, 1, 1, 576, 1, PaddingSame, 4},
	{"pose_landmark_lite", true, 1, 8, 8, 576, 5, 5, 576, 1, PaddingSame, 3},
	{"pose_landmark_lite", false, 1, 8, 8, 576, 1, 1, 96, 1, PaddingSame, 3},
	{"pose_landmark_lite", true, 1, 8, 8, 576, 3, 3, 576, 1, PaddingSame, 3},
	{"pose_landmark_lite", false, 1, 8, 8, 576, 1, 1, 32, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 64, 64, 32, 3, 3, 32, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 64, 64, 32, 1, 1, 8, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 256, 256, 8, 3, 3, 8, 1, PaddingSame, 2},
	{"pose_landmark_lite", false, 1, 256, 256, 8, 1, 1, 8, 1, PaddingSame, 2},
	{"pose_landmark_lite", false, 1, 256, 256, 8, 3, 3, 1, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 64, 64, 32, 1, 1, 39, 1, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 8, 8, 576, 1, 1, 192, 1, PaddingSame, 1},
	{"pose_landmark_lite", true, 1, 8, 8, 192, 3, 3, 192, 2, PaddingSame, 1},
	{"pose_landmark_lite", false, 1, 4, 4, 192, 1, 1, 192, 1, PaddingSame, 3},
	{"pose_landmark_lite", true, 1, 4, 4, 192, 3, 3, 192, 1, PaddingSame, 2},
	{"pose_landmark_lite", true, 1, 4, 4, 192, 3, 3, 192, 1, PaddingValid, 1},
	{"pose_landmark_lite", false, 1, 2, 2, 192, 1, 1, 192, 1, PaddingSame, 4},
	{"pose_landmark_lite", true, 1, 2, 2, 192, 3, 3, 192, 1, PaddingSame, 3},
	{"pose_landmark_lite", false, 1, 2, 2, 192, 2, 2, 195, 1, PaddingValid, 1},
	{"pose_landmark_lite", false, 1, 2, 2, 192, 2, 2, 117, 1, PaddingValid, 1},
	{"pose_landmark_lite", false, 1, 2, 2, 192, 2, 2, 1, 1, PaddingValid, 1},
	{"palm_detection_lite", false, 1, 192, 192, 3, 5, 5, 32, 2, PaddingSame, 1},
	{"palm_detection_lite", true, 1, 96, 96, 32, 5, 5, 32, 1, PaddingSame, 3},
	{"palm_detection_lite", false, 1, 96, 96, 32, 1, 1, 32, 1, PaddingSame, 3},
	{"palm_detection_lite", true, 1, 96, 96, 32, 5, 5, 32, 2, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 48, 48, 32, 1, 1, 64, 1, PaddingSame, 1},
	{"palm_detection_lite", true, 1, 48, 48, 64, 5, 5, 64, 1, PaddingSame, 3},
	{"palm_detection_lite", false, 1, 48, 48, 64, 1, 1, 64, 1, PaddingSame, 3},
	{"palm_detection_lite", true, 1, 48, 48, 64, 5, 5, 64, 2, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 24, 24, 64, 1, 1, 128, 1, PaddingSame, 1},
	{"palm_detection_lite", true, 1, 24, 24, 128, 5, 5, 128, 1, PaddingSame, 5},
	{"palm_detection_lite", false, 1, 24, 24, 128, 1, 1, 128, 1, PaddingSame, 5},
	{"palm_detection_lite", true, 1, 24, 24, 128, 5, 5, 128, 2, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 12, 12, 128, 1, 1, 256, 1, PaddingSame, 1},
	{"palm_detection_lite", true, 1, 12, 12, 256, 5, 5, 256, 1, PaddingSame, 5},
	{"palm_detection_lite", false, 1, 12, 12, 256, 1, 1, 256, 1, PaddingSame, 6},
	{"palm_detection_lite", true, 1, 12, 12, 256, 5, 5, 256, 2, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 6, 6, 256, 1, 1, 256, 1, PaddingSame, 4},
	{"palm_detection_lite", true, 1, 6, 6, 256, 5, 5, 256, 1, PaddingSame, 3},
	{"palm_detection_lite", false, 1, 12, 12, 256, 1, 1, 6, 1, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 12, 12, 256, 1, 1, 108, 1, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 24, 24, 256, 1, 1, 128, 1, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 24, 24, 128, 1, 1, 2, 1, PaddingSame, 1},
	{"palm_detection_lite", false, 1, 24, 24, 128, 1, 1, 36, 1, PaddingSame, 1},
	{"palm_detection_full", false, 1, 192, 192, 3, 5, 5, 32, 2, PaddingSame, 1},
	{"palm_detection_full", true, 1, 96, 96, 32, 5, 5, 32, 1, PaddingSame, 4},
	{"palm_detection_full", false, 1, 96, 96, 32, 1, 1, 32, 1, PaddingSame, 4},
	{"palm_detection_full", true, 1, 96, 96, 32, 5, 5, 32, 2, PaddingSame, 1},
	{"palm_detection_full", false, 1, 48, 48, 32, 1, 1, 64, 1, PaddingSame, 1},
	{"palm_detection_full", true, 1, 48, 48, 64, 5, 5, 64, 1, PaddingSame, 4},
	{"palm_detection_full", false, 1, 48, 48, 64, 1, 1, 64, 1, PaddingSame, 4},
	{"palm_detection_full", true, 1, 48, 48, 64, 5, 5, 64, 2, PaddingSame, 1},
	{"palm_detection_full", false, 1, 24, 24, 64, 1, 1, 128, 1, PaddingSame, 1},
	{"palm_detection_full", true, 1, 24, 24, 128, 5, 5, 128, 1, PaddingSame, 6},
	{"palm_detection_full", false, 1, 24, 24, 128, 1, 1, 128, 1, PaddingSame, 6},
	{"palm_detection_full", true, 1, 24, 24, 128, 5, 5, 128, 2, PaddingSame, 1},
	{"palm_detection_full", false, 1, 12, 12, 128, 1, 1, 256, 1, PaddingSame, 1},
	{"palm_detection_full", true, 1, 12, 12, 256, 5, 5, 256, 1, PaddingSame, 6},
	{"palm_detection_full", false, 1, 12, 12, 256, 1, 1, 256, 1, PaddingSame, 7},
	{"palm_detection_full", true, 1, 12, 12, 256, 5, 5, 256, 2, PaddingSame, 1},
	{"palm_detection_full", false, 1, 6, 6, 256, 1, 1, 256, 1, PaddingSame, 5},
	{"palm_detection_full", true, 1, 6, 6, 256, 5, 5, 256, 1, PaddingSame, 4},
	{"palm_detection_full", false, 1, 12, 12, 256, 1, 1, 6, 1, PaddingSame, 1},
	{"palm_detection_full", false, 1, 12, 12, 256, 1, 1, 108, 1, PaddingSame, 1},
	{"palm_detection_full", false, 1, 24, 24, 256, 1, 1, 128, 1, PaddingSame, 1},
	{"palm_detection_full", false, 1, 24, 24, 128, 1, 1, 2, 1, PaddingSame, 1},
	{"palm_detection_full", false, 1, 24, 24, 128, 1, 1, 36, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 192, 192, 3, 3, 3, 32, 2, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 96, 96, 32, 3, 3, 32, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 96, 96, 32, 1, 1, 8, 1, PaddingSame, 2},
	{"face_detection_full_range", true, 1, 96, 96, 8, 3, 3, 8, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 96, 96, 8, 1, 1, 32, 1, PaddingSame, 2},
	{"face_detection_full_range", true, 1, 96, 96, 32, 3, 3, 32, 2, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 48, 48, 32, 1, 1, 12, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 48, 48, 12, 3, 3, 12, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 48, 48, 12, 1, 1, 48, 1, PaddingSame, 2},
	{"face_detection_full_range", true, 1, 48, 48, 48, 3, 3, 48, 1, PaddingSame, 3},
	{"face_detection_full_range", false, 1, 48, 48, 48, 1, 1, 12, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 48, 48, 48, 1, 1, 16, 1, PaddingSame, 2},
	{"face_detection_full_range", true, 1, 48, 48, 16, 3, 3, 16, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 48, 48, 16, 1, 1, 64, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 48, 48, 64, 3, 3, 64, 2, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 24, 24, 64, 1, 1, 24, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 24, 24, 24, 3, 3, 24, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 24, 24, 24, 1, 1, 96, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 24, 24, 96, 3, 3, 96, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 24, 24, 96, 1, 1, 32, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 24, 24, 32, 3, 3, 32, 1, PaddingSame, 4},
	{"face_detection_full_range", false, 1, 24, 24, 32, 1, 1, 128, 1, PaddingSame, 2},
	{"face_detection_full_range", true, 1, 24, 24, 128, 3, 3, 128, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 24, 24, 128, 1, 1, 32, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 24, 24, 128, 3, 3, 128, 2, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 12, 12, 128, 1, 1, 36, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 12, 12, 36, 3, 3, 36, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 12, 12, 36, 1, 1, 144, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 12, 12, 144, 3, 3, 144, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 12, 12, 144, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 12, 12, 48, 3, 3, 48, 1, PaddingSame, 3},
	{"face_detection_full_range", false, 1, 12, 12, 48, 1, 1, 192, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 12, 12, 192, 3, 3, 192, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 12, 12, 192, 1, 1, 64, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 12, 12, 64, 3, 3, 64, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 12, 12, 64, 1, 1, 256, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 12, 12, 256, 3, 3, 256, 2, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 6, 6, 256, 1, 1, 96, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 6, 6, 96, 3, 3, 96, 1, PaddingSame, 4},
	{"face_detection_full_range", false, 1, 6, 6, 96, 1, 1, 384, 1, PaddingSame, 4},
	{"face_detection_full_range", true, 1, 6, 6, 384, 3, 3, 384, 1, PaddingSame, 3},
	{"face_detection_full_range", false, 1, 6, 6, 384, 1, 1, 96, 1, PaddingSame, 4},
	{"face_detection_full_range", false, 1, 12, 12, 256, 1, 1, 96, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 12, 12, 96, 3, 3, 96, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 12, 12, 96, 1, 1, 48, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 12, 12, 48, 1, 1, 96, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 12, 12, 96, 1, 1, 64, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 24, 24, 128, 1, 1, 64, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 24, 24, 64, 3, 3, 64, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 24, 24, 64, 1, 1, 32, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 24, 24, 32, 1, 1, 64, 1, PaddingSame, 2},
	{"face_detection_full_range", false, 1, 24, 24, 64, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 48, 48, 64, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 48, 48, 48, 1, 1, 24, 1, PaddingSame, 1},
	{"face_detection_full_range", true, 1, 48, 48, 24, 3, 3, 24, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 48, 48, 24, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range", false, 1, 48, 48, 48, 1, 1, 1, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", false, 1, 194, 194, 3, 3, 3, 32, 2, PaddingValid, 1},
	{"face_detection_full_range_sparse", true, 1, 98, 98, 32, 3, 3, 32, 1, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 96, 96, 32, 1, 1, 8, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", true, 1, 98, 98, 8, 3, 3, 8, 1, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 96, 96, 8, 1, 1, 32, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", true, 1, 98, 98, 32, 3, 3, 32, 2, PaddingValid, 1},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 32, 1, 1, 16, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 50, 50, 16, 3, 3, 16, 1, PaddingValid, 3},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 16, 1, 1, 64, 1, PaddingSame, 3},
	{"face_detection_full_range_sparse", true, 1, 50, 50, 64, 3, 3, 64, 1, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 64, 1, 1, 16, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 64, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 50, 50, 64, 3, 3, 64, 2, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 24, 24, 64, 1, 1, 32, 1, PaddingSame, 3},
	{"face_detection_full_range_sparse", true, 1, 26, 26, 32, 3, 3, 32, 1, PaddingValid, 5},
	{"face_detection_full_range_sparse", false, 1, 24, 24, 32, 1, 1, 128, 1, PaddingSame, 3},
	{"face_detection_full_range_sparse", true, 1, 26, 26, 128, 3, 3, 128, 1, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 24, 24, 128, 1, 1, 32, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", false, 1, 24, 24, 128, 1, 1, 64, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 26, 26, 128, 3, 3, 128, 2, PaddingValid, 1},
	{"face_detection_full_range_sparse", false, 1, 12, 12, 128, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 14, 14, 48, 3, 3, 48, 1, PaddingValid, 5},
	{"face_detection_full_range_sparse", false, 1, 12, 12, 48, 1, 1, 192, 1, PaddingSame, 3},
	{"face_detection_full_range_sparse", true, 1, 14, 14, 192, 3, 3, 192, 1, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 12, 12, 192, 1, 1, 48, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", false, 1, 12, 12, 192, 1, 1, 96, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 14, 14, 192, 3, 3, 192, 2, PaddingValid, 1},
	{"face_detection_full_range_sparse", false, 1, 6, 6, 192, 1, 1, 96, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 8, 8, 96, 3, 3, 96, 1, PaddingValid, 4},
	{"face_detection_full_range_sparse", false, 1, 6, 6, 96, 1, 1, 384, 1, PaddingSame, 4},
	{"face_detection_full_range_sparse", true, 1, 8, 8, 384, 3, 3, 384, 1, PaddingValid, 3},
	{"face_detection_full_range_sparse", false, 1, 6, 6, 384, 1, 1, 96, 1, PaddingSame, 4},
	{"face_detection_full_range_sparse", true, 1, 14, 14, 96, 3, 3, 96, 1, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 12, 12, 96, 1, 1, 48, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", false, 1, 12, 12, 48, 1, 1, 96, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", false, 1, 12, 12, 96, 1, 1, 64, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 26, 26, 64, 3, 3, 64, 1, PaddingValid, 2},
	{"face_detection_full_range_sparse", false, 1, 24, 24, 32, 1, 1, 64, 1, PaddingSame, 2},
	{"face_detection_full_range_sparse", false, 1, 24, 24, 64, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 50, 50, 48, 3, 3, 48, 1, PaddingValid, 1},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 48, 1, 1, 24, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 50, 50, 24, 3, 3, 24, 1, PaddingValid, 1},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 24, 1, 1, 48, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 48, 1, 1, 4, 1, PaddingSame, 1},
	{"face_detection_full_range_sparse", true, 1, 50, 50, 4, 3, 3, 4, 2, PaddingValid, 1},
	{"face_detection_full_range_sparse", false, 1, 48, 48, 48, 1, 1, 64, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 224, 224, 3, 3, 3, 24, 2, PaddingSame, 1},
	{"hand_landmark_lite", true, 1, 112, 112, 24, 3, 3, 24, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 112, 112, 24, 1, 1, 16, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 112, 112, 16, 1, 1, 64, 1, PaddingSame, 1},
	{"hand_landmark_lite", true, 1, 112, 112, 64, 3, 3, 64, 2, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 56, 56, 64, 1, 1, 16, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 56, 56, 16, 1, 1, 96, 1, PaddingSame, 2},
	{"hand_landmark_lite", true, 1, 56, 56, 96, 3, 3, 96, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 56, 56, 96, 1, 1, 16, 1, PaddingSame, 1},
	{"hand_landmark_lite", true, 1, 56, 56, 96, 5, 5, 96, 2, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 28, 28, 96, 1, 1, 24, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 28, 28, 24, 1, 1, 144, 1, PaddingSame, 2},
	{"hand_landmark_lite", true, 1, 28, 28, 144, 5, 5, 144, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 28, 28, 144, 1, 1, 24, 1, PaddingSame, 1},
	{"hand_landmark_lite", true, 1, 28, 28, 144, 3, 3, 144, 2, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 14, 14, 144, 1, 1, 48, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 14, 14, 48, 1, 1, 288, 1, PaddingSame, 3},
	{"hand_landmark_lite", true, 1, 14, 14, 288, 3, 3, 288, 1, PaddingSame, 2},
	{"hand_landmark_lite", false, 1, 14, 14, 288, 1, 1, 48, 1, PaddingSame, 2},
	{"hand_landmark_lite", true, 1, 14, 14, 288, 5, 5, 288, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 14, 14, 288, 1, 1, 64, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 14, 14, 64, 1, 1, 384, 1, PaddingSame, 3},
	{"hand_landmark_lite", true, 1, 14, 14, 384, 5, 5, 384, 1, PaddingSame, 2},
	{"hand_landmark_lite", false, 1, 14, 14, 384, 1, 1, 64, 1, PaddingSame, 2},
	{"hand_landmark_lite", true, 1, 14, 14, 384, 5, 5, 384, 2, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 7, 7, 384, 1, 1, 112, 1, PaddingSame, 1},
	{"hand_landmark_lite", false, 1, 7, 7, 112, 1, 1, 672, 1, PaddingSame, 4},
	{"hand_landmark_lite", true, 1, 7, 7, 672, 5, 5, 672, 1, PaddingSame, 3},
	{"hand_landmark_lite", false, 1, 7, 7, 672, 1, 1, 112, 1, PaddingSame, 3},
	{"hand_landmark_lite", true, 1, 7, 7, 672, 3, 3, 672, 1, PaddingSame, 1},
	{"face_landmark", false, 1, 192, 192, 3, 3, 3, 16, 2, PaddingSame, 1},
	{"face_landmark", true, 1, 96, 96, 16, 3, 3, 16, 1, PaddingSame, 2},
	{"face_landmark", false, 1, 96, 96, 16, 1, 1, 16, 1, PaddingSame, 2},
	{"face_landmark", true, 1, 96, 96, 16, 3, 3, 16, 2, PaddingSame, 1},
	{"face_landmark", false, 1, 48, 48, 16, 1, 1, 32, 1, PaddingSame, 1},
	{"face_landmark", true, 1, 48, 48, 32, 3, 3, 32, 1, PaddingSame, 2},
	{"face_landmark", false, 1, 48, 48, 32, 1, 1, 32, 1, PaddingSame, 2},
	{"face_landmark", true, 1, 48, 48, 32, 3, 3, 32, 2, PaddingSame, 1},
	{"face_landmark", false, 1, 24, 24, 32, 1, 1, 64, 1, PaddingSame, 1},
	{"face_landmark", true, 1, 24, 24, 64, 3, 3, 64, 1, PaddingSame, 2},
	{"face_landmark", false, 1, 24, 24, 64, 1, 1, 64, 1, PaddingSame, 2},
	{"face_landmark", true, 1, 24, 24, 64, 3, 3, 64, 2, PaddingSame, 1},
	{"face_landmark", false, 1, 12, 12, 64, 1, 1, 128, 1, PaddingSame, 1},
	{"face_landmark", true, 1, 12, 12, 128, 3, 3, 128, 1, PaddingSame, 2},
	{"face_landmark", false, 1, 12, 12, 128, 1, 1, 128, 1, PaddingSame, 2},
	{"face_landmark", true, 1, 12, 12, 128, 3, 3, 128, 2, PaddingSame, 1},
	{"face_landmark", false, 1, 6, 6, 128, 1, 1, 128, 1, PaddingSame, 3},
	{"face_landmark", true, 1, 6, 6, 128, 3, 3, 128, 1, PaddingSame, 2},
	{"face_landmark", true, 1, 6, 6, 128, 3, 3, 128, 2, PaddingSame, 2},
	{"face_landmark", false, 1, 3, 3, 128, 1, 1, 128, 1, PaddingSame, 4},
	{"face_landmark", true, 1, 3, 3, 128, 3, 3, 128, 1, PaddingSame, 2},
	{"face_landmark", false, 1, 3, 3, 128, 1, 1, 32, 1, PaddingSame, 2},
	{"face_landmark", true, 1, 3, 3, 32, 3, 3, 32, 1, PaddingSame, 2},
	{"face_landmark", false, 1, 3, 3, 32, 1, 1, 32, 1, PaddingSame, 2},
	{"face_landmark", false, 1, 3, 3, 32, 3, 3, 1, 1, PaddingValid, 1},
	{"face_landmark", false, 1, 3, 3, 32, 3, 3, 1404, 1, PaddingValid, 1},
	{"knift_float", true, 200, 32, 32, 1, 3, 3, 16, 1, PaddingSame, 1},
	{"knift_float", false, 200, 32, 32, 16, 3, 3, 32, 2, PaddingSame, 1},
	{"knift_float", false, 200, 16, 16, 32, 1, 1, 32, 1, PaddingSame, 1},
	{"knift_float", false, 200, 16, 16, 32, 1, 1, 16, 1, PaddingSame, 2},
	{"knift_float", false, 200, 16, 16, 16, 3, 3, 16, 2, PaddingSame, 2},
	{"knift_float", false, 200, 16, 16, 16, 3, 3, 16, 1, PaddingSame, 1},
	{"knift_float", false, 200, 8, 8, 64, 1, 1, 32, 1, PaddingSame, 2},
	{"knift_float", false, 200, 8, 8, 32, 3, 3, 32, 2, PaddingSame, 2},
	{"knift_float", false, 200, 8, 8, 32, 1, 7, 32, 1, PaddingSame, 1},
	{"knift_float", false, 200, 8, 8, 32, 7, 1, 32, 1, PaddingSame, 1},
	{"knift_float", false, 200, 1, 1, 128, 1, 1, 40, 1, PaddingSame, 1},
	{"iris_landmark", false, 1, 64, 64, 3, 3, 3, 64, 2, PaddingSame, 1},
	{"iris_landmark", false, 1, 32, 32, 64, 1, 1, 32, 1, PaddingSame, 4},
	{"iris_landmark", true, 1, 32, 32, 32, 3, 3, 32, 1, PaddingSame, 4},
	{"iris_landmark", false, 1, 32, 32, 32, 1, 1, 64, 1, PaddingSame, 4},
	{"iris_landmark", false, 1, 32, 32, 64, 2, 2, 64, 2, PaddingSame, 1},
	{"iris_landmark", true, 1, 16, 16, 64, 3, 3, 64, 1, PaddingSame, 5},
	{"iris_landmark", false, 1, 16, 16, 64, 1, 1, 128, 1, PaddingSame, 5},
	{"iris_landmark", false, 1, 16, 16, 128, 1, 1, 64, 1, PaddingSame, 4},
	{"iris_landmark", false, 1, 16, 16, 128, 2, 2, 64, 2, PaddingSame, 1},
	{"iris_landmark", true, 1, 8, 8, 64, 3, 3, 64, 1, PaddingSame, 5},
	{"iris_landmark", false, 1, 8, 8, 64, 1, 1, 128, 1, PaddingSame, 5},
	{"iris_landmark", false, 1, 8, 8, 128, 1, 1, 64, 1, PaddingSame, 4},
	{"iris_landmark", false, 1, 8, 8, 128, 2, 2, 64, 2, PaddingSame, 2},
	{"iris_landmark", true, 1, 4, 4, 64, 3, 3, 64, 1, PaddingSame, 6},
	{"iris_landmark", false, 1, 4, 4, 64, 1, 1, 128, 1, PaddingSame, 6},
	{"iris_landmark", false, 1, 4, 4, 128, 1, 1, 64, 1, PaddingSame, 4},
	{"iris_landmark", false, 1, 4, 4, 128, 2, 2, 64, 2, PaddingSame, 2},
	{"iris_landmark", true, 1, 2, 2, 64, 3, 3, 64, 1, PaddingSame, 6},
	{"iris_landmark", false, 1, 2, 2, 64, 1, 1, 128, 1, PaddingSame, 6},
	{"iris_landmark", false, 1, 2, 2, 128, 1, 1, 64, 1, PaddingSame, 4},
	{"iris_landmark", false, 1, 2, 2, 128, 2, 2, 213, 1, PaddingValid, 1},
	{"iris_landmark", false, 1, 2, 2, 128, 2, 2, 15, 1, PaddingValid, 1},
	{"deeplabv3", false, 1, 257, 257, 3, 3, 3, 16, 2, PaddingSame, 1},
	{"deeplabv3", true, 1, 129, 129, 16, 3, 3, 16, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 129, 129, 16, 1, 1, 8, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 129, 129, 8, 1, 1, 48, 1, PaddingSame, 1},
	{"deeplabv3", true, 1, 129, 129, 48, 3, 3, 48, 2, PaddingSame, 1},
	{"deeplabv3", false, 1, 65, 65, 48, 1, 1, 12, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 65, 65, 12, 1, 1, 72, 1, PaddingSame, 2},
	{"deeplabv3", true, 1, 65, 65, 72, 3, 3, 72, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 65, 65, 72, 1, 1, 12, 1, PaddingSame, 1},
	{"deeplabv3", true, 1, 65, 65, 72, 3, 3, 72, 2, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 72, 1, 1, 16, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 16, 1, 1, 96, 1, PaddingSame, 3},
	{"deeplabv3", true, 1, 33, 33, 96, 3, 3, 96, 1, PaddingSame, 3},
	{"deeplabv3", false, 1, 33, 33, 96, 1, 1, 16, 1, PaddingSame, 2},
	{"deeplabv3", false, 1, 33, 33, 96, 1, 1, 32, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 32, 1, 1, 192, 1, PaddingSame, 4},
	{"deeplabv3", true, 1, 33, 33, 192, 3, 3, 192, 1, PaddingSame, 4},
	{"deeplabv3", false, 1, 33, 33, 192, 1, 1, 32, 1, PaddingSame, 3},
	{"deeplabv3", false, 1, 33, 33, 192, 1, 1, 48, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 48, 1, 1, 288, 1, PaddingSame, 3},
	{"deeplabv3", true, 1, 33, 33, 288, 3, 3, 288, 1, PaddingSame, 3},
	{"deeplabv3", false, 1, 33, 33, 288, 1, 1, 48, 1, PaddingSame, 2},
	{"deeplabv3", false, 1, 33, 33, 288, 1, 1, 80, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 80, 1, 1, 480, 1, PaddingSame, 3},
	{"deeplabv3", true, 1, 33, 33, 480, 3, 3, 480, 1, PaddingSame, 3},
	{"deeplabv3", false, 1, 33, 33, 480, 1, 1, 80, 1, PaddingSame, 2},
	{"deeplabv3", false, 1, 33, 33, 480, 1, 1, 160, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 1, 1, 160, 1, 1, 256, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 160, 1, 1, 256, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 512, 1, 1, 256, 1, PaddingSame, 1},
	{"deeplabv3", false, 1, 33, 33, 256, 1, 1, 21, 1, PaddingSame, 1},
}

// build constructs the operator on random tensors; it returns the kernel
// and its multiply-adds.
func (s floatConvShape) build(tb testing.TB) (Kernel, float64) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(s.h*s.c), uint64(s.outC)))
	in := convT("in", tensor.Float32, []int{s.batch, s.h, s.w, s.c}, nil, floatRand(rng, s.batch*s.h*s.w*s.c))
	bias := convT("b", tensor.Float32, []int{s.outC}, nil, floatRand(rng, s.outC))
	oh, _ := convOutSize(s.pad, s.h, s.fh, s.stride, 1)
	ow, _ := convOutSize(s.pad, s.w, s.fw, s.stride, 1)
	out := convT("out", tensor.Float32, []int{s.batch, oh, ow, s.outC}, nil, nil)
	cfg := &Config{Threads: 1, Arithmetic: LiteRT} // the runtime's default
	var k Kernel
	var err error
	macs := float64(s.batch * oh * ow * s.outC * s.fh * s.fw)
	if s.depthwise {
		f := convT("w", tensor.Float32, []int{1, s.fh, s.fw, s.outC}, nil, floatRand(rng, s.fh*s.fw*s.outC))
		p := ConvParams{Padding: s.pad, StrideH: s.stride, StrideW: s.stride, DilationH: 1, DilationW: 1}
		k, err = DepthwiseConv2D(cfg, p, in, f, bias, out)
	} else {
		f := convT("w", tensor.Float32, []int{s.outC, s.fh, s.fw, s.c}, nil, floatRand(rng, s.outC*s.fh*s.fw*s.c))
		p := ConvParams{Padding: s.pad, StrideH: s.stride, StrideW: s.stride, DilationH: 1, DilationW: 1}
		k, err = Conv2D(cfg, p, in, f, bias, out)
		macs *= float64(s.c)
	}
	if err != nil {
		tb.Fatalf("%v: %v", s, err)
	}
	return k, macs
}

var (
	fmaPeakOnce sync.Once
	fmaPeakGF   float64
)

// reportPeakShare reports flops per CPU nanosecond as GFLOP/s and as a
// share of the FMA peak, under the given metric name prefix.
func reportPeakShare(b *testing.B, prefix string, flops float64, cpu time.Duration) {
	fmaPeakOnce.Do(func() { fmaPeakGF = fmaPeak() })
	gf := flops / float64(cpu.Nanoseconds())
	b.ReportMetric(gf, prefix+"GFLOP/s")
	if fmaPeakGF > 0 {
		b.ReportMetric(100*gf/fmaPeakGF, prefix+"%peak")
	}
}

func BenchmarkFloatConvShapes(b *testing.B) {
	for _, s := range floatConvShapes {
		b.Run(s.String(), func(b *testing.B) {
			k, macs := s.build(b)
			per := benchCPU(b, func() { _ = k.Eval() })
			reportPeakShare(b, "", 2*macs, per)
		})
	}
}

func BenchmarkFloatConvModels(b *testing.B) {
	var models []string
	for _, s := range floatConvShapes {
		if len(models) == 0 || models[len(models)-1] != s.model {
			models = append(models, s.model)
		}
	}
	for _, m := range models {
		b.Run(m, func(b *testing.B) {
			type op struct {
				k     Kernel
				flops float64
				n     int
			}
			var ops [2][]op // convolutions, depthwise
			for _, s := range floatConvShapes {
				if s.model != m {
					continue
				}
				k, macs := s.build(b)
				i := 0
				if s.depthwise {
					i = 1
				}
				ops[i] = append(ops[i], op{k, 2 * macs * float64(s.count), s.count})
			}
			var cpu [2]time.Duration
			var flops [2]float64
			// Each operator runs once untimed, then its count of times
			// timed: in a model an operator reads what the one before it
			// has just written, not an input long out of the caches.
			benchCPU(b, func() {
				for i := range ops {
					for _, o := range ops[i] {
						_ = o.k.Eval()
						start := threadCPU()
						for range o.n {
							_ = o.k.Eval()
						}
						cpu[i] += threadCPU() - start
						flops[i] += o.flops
					}
				}
			})
			reportPeakShare(b, "", flops[0]+flops[1], cpu[0]+cpu[1])
			reportPeakShare(b, "conv-", flops[0], cpu[0])
			reportPeakShare(b, "dw-", flops[1], cpu[1])
		})
	}
}
