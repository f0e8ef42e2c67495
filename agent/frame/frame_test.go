package frame

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

func gray(t *testing.T, img image.Image, x, y int) uint8 {
	t.Helper()
	r, g, b, _ := img.At(x, y).RGBA()
	if r != g || g != b {
		t.Fatalf("pixel (%d,%d) = %v; want gray", x, y, img.At(x, y))
	}
	return uint8(r >> 8)
}

// TestScaleInt8Gray: a 96×96 int8 gray picture (person_detect's input)
// keeps its size; int8 values are shifted by 128: 32 → 160, −32 → 96.
func TestScaleInt8Gray(t *testing.T) {
	data := make([]byte, 96*96)
	for y := range 96 {
		for x := range 96 {
			v := int8(32)
			if y >= 48 {
				v = -32
			}
			data[y*96+x] = byte(v)
		}
	}
	img, err := Scale(infer.Tensor{DType: tensor.Int8, Shape: []int{1, 96, 96, 1}, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 96 || b.Dy() != 96 {
		t.Fatalf("thumbnail %v; want 96x96", b)
	}
	if g := gray(t, img, 10, 10); g != 160 {
		t.Errorf("top half %d; want 160", g)
	}
	if g := gray(t, img, 90, 90); g != 96 {
		t.Errorf("bottom half %d; want 96", g)
	}
}

// TestScaleDown: a 320×240 RGB uint8 picture becomes 160×120, each pixel
// the mean of a 2×2 block: the left half red, the right half blue, and a
// column of alternating 0 and 200 gray pixels at x = 200, 201 averaging to
// 100 at thumbnail column 100.
func TestScaleDown(t *testing.T) {
	const w, h = 320, 240
	data := make([]byte, w*h*3)
	for y := range h {
		for x := range w {
			p := data[(y*w+x)*3:]
			switch {
			case x == 200 || x == 201:
				v := byte(0)
				if (x+y)%2 == 0 {
					v = 200
				}
				p[0], p[1], p[2] = v, v, v
			case x < w/2:
				p[0] = 255
			default:
				p[2] = 255
			}
		}
	}
	img, err := Scale(infer.Tensor{DType: tensor.UInt8, Shape: []int{1, h, w, 3}, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
		t.Fatalf("thumbnail %v; want 160x120", b)
	}
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{0, 0, color.RGBA{255, 0, 0, 255}}, {79, 60, color.RGBA{255, 0, 0, 255}},
		{80, 60, color.RGBA{0, 0, 255, 255}}, {159, 119, color.RGBA{0, 0, 255, 255}},
		{100, 7, color.RGBA{100, 100, 100, 255}},
	} {
		if got := img.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("pixel (%d,%d) = %v; want %v", c.x, c.y, got, c.want)
		}
	}
}

// TestScaleFloat: float32 values in [0, 1] scale by 255, in [-1, 1] from
// -1..1; others from their own range.
func TestScaleFloat(t *testing.T) {
	for _, c := range []struct {
		a, b float32
		want [2]uint8
	}{
		{0, 0.5, [2]uint8{0, 128}},     // 127.5 rounds up
		{-1, 0.5, [2]uint8{0, 191}},    // (0.5+1)×127.5 = 191.25
		{10, 30, [2]uint8{0, 255}},     // own range
		{-0.5, -0.5, [2]uint8{64, 64}}, // (−0.5+1)×127.5 = 63.75
	} {
		data := make([]byte, 4*8*8)
		for k := range 64 {
			v := c.a
			if k%8 >= 4 {
				v = c.b
			}
			binary.LittleEndian.PutUint32(data[4*k:], math.Float32bits(v))
		}
		img, err := Scale(infer.Tensor{DType: tensor.Float32, Shape: []int{8, 8, 1}, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if l, r := gray(t, img, 0, 0), gray(t, img, 7, 0); l != c.want[0] || r != c.want[1] {
			t.Errorf("values %g, %g: pixels %d, %d; want %d, %d", c.a, c.b, l, r, c.want[0], c.want[1])
		}
	}
}

func TestScaleRefuses(t *testing.T) {
	for _, in := range []infer.Tensor{
		{DType: tensor.Int8, Shape: []int{1, 49, 40}, Data: make([]byte, 49*40)},    // audio features
		{DType: tensor.Int8, Shape: []int{2, 16, 16, 1}, Data: make([]byte, 512)},   // a batch
		{DType: tensor.Int16, Shape: []int{16, 16, 1}, Data: make([]byte, 512)},     // int16
		{DType: tensor.UInt8, Shape: []int{16, 16, 3}, Data: make([]byte, 16*16)},   // short data
		{DType: tensor.UInt8, Shape: []int{16, 16, 2}, Data: make([]byte, 16*16*2)}, // two channels
	} {
		if _, err := Scale(in); err == nil {
			t.Errorf("Scale(%v %v) succeeded; want an error", in.DType, in.Shape)
		}
	}
	if !IsImage(infer.TensorSpec{DType: tensor.UInt8, Shape: []int{1, 300, 300, 3}}) || IsImage(infer.TensorSpec{DType: tensor.Float32, Shape: []int{1, 4}}) {
		t.Error("IsImage: want a picture for [1,300,300,3] uint8 and none for [1,4] float32")
	}
}

func floats(shape []int, v ...float32) infer.Tensor {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return infer.Tensor{DType: tensor.Float32, Shape: shape, Data: b}
}

// TestDetections reads post-processed detections: three found, two
// scoring 0.5 or more, the label of class 0 from the labels.
func TestDetections(t *testing.T) {
	outs := []infer.Tensor{
		floats([]int{1, 3, 4}, 0.1, 0.2, 0.5, 0.6, 0, 0, 1, 1, 0.25, 0.25, 0.75, 0.75),
		floats([]int{1, 3}, 0, 2, 7),
		floats([]int{1, 3}, 0.9, 0.3, 0.6),
		floats([]int{1}, 3),
	}
	mi := infer.ModelInfo{Labels: []string{"person", "bicycle", "car"}}
	for _, o := range outs {
		mi.Outputs = append(mi.Outputs, infer.TensorSpec{DType: o.DType, Shape: o.Shape})
	}
	boxes, ok := Detections(outs, mi, 0.5, 5)
	want := []Box{{X0: 0.2, Y0: 0.1, X1: 0.6, Y1: 0.5, Label: "person", Score: 0.9}, {X0: 0.25, Y0: 0.25, X1: 0.75, Y1: 0.75, Label: "class 7", Score: 0.6}}
	if !ok || len(boxes) != 2 {
		t.Fatalf("Detections = %+v, %v; want %+v", boxes, ok, want)
	}
	for i := range want {
		g := boxes[i]
		if g.Label != want[i].Label || math.Abs(g.Score-want[i].Score) > 1e-6 || math.Abs(g.X0-want[i].X0) > 1e-6 || math.Abs(g.Y1-want[i].Y1) > 1e-6 {
			t.Errorf("box %d = %+v; want %+v", i, g, want[i])
		}
	}
	if _, ok := Detections(outs[:2], mi, 0.5, 5); ok {
		t.Error("Detections of a classifier's outputs: ok; want not detections")
	}
}

// TestRender: a box from (0.25, 0.25) to (0.75, 0.75) on a 100×100 gray
// picture has its edges at pixels 25 and 75; the caption adds a line of
// 15 pixels under the picture; the PNG decodes to the same.
func TestRender(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for i := range img.Pix {
		img.Pix[i] = 120
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	th := &Thumb{Img: img, Labels: []Label{{Text: "person", Score: 0.94}}, Boxes: []Box{{X0: 0.25, Y0: 0.25, X1: 0.75, Y1: 0.75, Label: "person", Score: 0.9}}}
	if w, h := th.Size(); w != 100 || h != 115 {
		t.Fatalf("Size = %d, %d; want 100, 115", w, h)
	}
	b, err := th.PNG()
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != image.Rect(0, 0, 100, 115) {
		t.Fatalf("PNG %v; want 100x115", got.Bounds())
	}
	rgba := func(x, y int) color.RGBA {
		r, g, b, a := got.At(x, y).RGBA()
		return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
	}
	for _, p := range [][2]int{{25, 60}, {75, 60}, {50, 75}, {60, 25}} {
		if c := rgba(p[0], p[1]); c != boxColor {
			t.Errorf("box edge at %v = %v; want %v", p, c, boxColor)
		}
	}
	gray := color.RGBA{120, 120, 120, 255}
	for _, p := range [][2]int{{50, 50}, {10, 10}, {90, 90}, {24, 60}} {
		if c := rgba(p[0], p[1]); c != gray {
			t.Errorf("picture at %v = %v; want %v unchanged", p, c, gray)
		}
	}
	// The caption: white text on black, under the picture.
	var white, black int
	for y := 100; y < 115; y++ {
		for x := range 100 {
			switch rgba(x, y) {
			case color.RGBA{255, 255, 255, 255}:
				white++
			case color.RGBA{0, 0, 0, 255}:
				black++
			}
		}
	}
	if white < 20 || black < 1000 {
		t.Errorf("caption has %d white and %d black pixels; want text (20+) on black", white, black)
	}
}

// TestDetectionsGolden: the official runtime's outputs of the SSD
// MobileNet detector on the cat picture (testdata/golden, cat/output_*.bin)
// hold one object scoring 0.5 or more: class 16, "cat" in the COCO labels
// (with their "n/a" entries), 0.711, at ymin 0.131, xmin 0.086, ymax 0.977,
// xmax 0.703. Drawn on the 300×300 input's 160×160 thumbnail, its left
// edge is column 13 (0.086 × 160).
func TestDetectionsGolden(t *testing.T) {
	dir := "../../testdata/golden/ssd_mobilenet_v1_coco_quant_detect/cat/"
	shapes := [][]int{{1, 10, 4}, {1, 10}, {1, 10}, {1}}
	var outs []infer.Tensor
	mi := infer.ModelInfo{}
	for i, sh := range shapes {
		b, err := os.ReadFile(fmt.Sprintf("%soutput_%d.bin", dir, i))
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, infer.Tensor{DType: tensor.Float32, Shape: sh, Data: b})
		mi.Outputs = append(mi.Outputs, infer.TensorSpec{DType: tensor.Float32, Shape: sh})
	}
	labels, err := os.ReadFile("../../testdata/models/testdata/coco_labels.txt")
	if err != nil {
		t.Fatal(err)
	}
	mi.Labels = strings.Split(strings.TrimRight(string(labels), "\n"), "\n")
	boxes, ok := Detections(outs, mi, 0.5, 5)
	if !ok || len(boxes) != 1 {
		t.Fatalf("Detections = %+v, %v; want one object", boxes, ok)
	}
	b := boxes[0]
	if b.Label != "cat" || math.Abs(b.Score-0.711) > 5e-4 || math.Abs(b.Y0-0.131) > 5e-4 || math.Abs(b.X0-0.086) > 5e-4 ||
		math.Abs(b.Y1-0.977) > 5e-4 || math.Abs(b.X1-0.703) > 5e-4 {
		t.Errorf("object %+v; want cat 0.711 at (0.086, 0.131)-(0.703, 0.977)", b)
	}
	in, err := os.ReadFile(dir + "input_0.bin")
	if err != nil {
		t.Fatal(err)
	}
	img, err := Scale(infer.Tensor{DType: tensor.UInt8, Shape: []int{1, 300, 300, 3}, Data: in})
	if err != nil {
		t.Fatal(err)
	}
	out := (&Thumb{Img: img, Boxes: boxes}).Render()
	if out.Bounds() != image.Rect(0, 0, 160, 160) {
		t.Fatalf("thumbnail %v; want 160x160", out.Bounds())
	}
	if c := out.RGBAAt(13, 100); c != boxColor {
		t.Errorf("pixel (13,100) = %v; want the box's left edge %v", c, boxColor)
	}
	if c, c0 := out.RGBAAt(12, 100), img.RGBAAt(12, 100); c != c0 {
		t.Errorf("pixel (12,100) = %v; want the picture's %v", c, c0)
	}
}

// BenchmarkScale: the cost of one sample of a source's input (at most one
// a second per source).
func BenchmarkScale(b *testing.B) {
	for _, c := range []struct {
		name  string
		dt    tensor.DType
		shape []int
	}{{"person_detect_96x96x1_int8", tensor.Int8, []int{1, 96, 96, 1}}, {"ssd_300x300x3_uint8", tensor.UInt8, []int{1, 300, 300, 3}}} {
		n := c.shape[1] * c.shape[2] * c.shape[3]
		in := infer.Tensor{DType: c.dt, Shape: c.shape, Data: make([]byte, n)}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Scale(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
