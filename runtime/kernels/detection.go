package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// DetectionParams are the options of the TFLite_Detection_PostProcess
// custom operator (SSD box decoding and non-max suppression).
type DetectionParams struct {
	MaxDetections          int
	MaxClassesPerDetection int // fast NMS: classes reported per box
	DetectionsPerClass     int // regular NMS: boxes kept per class
	UseRegularNMS          bool
	ScoreThreshold         float32
	IoUThreshold           float32
	NumClasses             int // without the background class
	// Center-size encoding scales: y and x divide the center offsets, h and
	// w the log sizes.
	YScale, XScale, HScale, WScale float32
}

// maxDetectionOutputs bounds max_detections × max_classes_per_detection, so
// that options from a file cannot ask for huge outputs.
const maxDetectionOutputs = 1 << 20

// DetectionPostProcess decodes SSD box encodings [1, boxes, ≥4] against
// anchors [boxes, 4] (center-size: y, x, h, w), runs non-max suppression on
// the class predictions [1, boxes, classes (+1 background)] and writes
// float32 boxes [1, N, 4] (ymin, xmin, ymax, xmax), classes [1, N], scores
// [1, N] and the number of detections [1], N = MaxDetections ×
// MaxClassesPerDetection. It follows TFLite's detection_postprocess.cc:
// scores are used as given (no sigmoid), a box is a candidate when its
// score is >= the threshold, and one suppresses another when their IoU is
// > the IoU threshold. Output slots beyond the detections are zero.
//
// Inputs may be float32, or uint8/int8 dequantized as (q - zero_point) ×
// scale. TFLite itself implements float32 and uint8 only; int8 uses the
// same formula.
func DetectionPostProcess(cfg *Config, p DetectionParams, boxEnc, classPred, anchors, outBoxes, outClasses, outScores, outNum *tensor.Tensor) (Kernel, error) {
	if boxEnc.Rank() != 3 || boxEnc.Shape[0] != 1 || boxEnc.Shape[2] < 4 {
		return nil, fmt.Errorf("box encodings %q have shape %v; want [1, boxes, 4 or more]", boxEnc.Name, boxEnc.Shape)
	}
	numBoxes, boxStride := boxEnc.Shape[1], boxEnc.Shape[2]
	if classPred.Rank() != 3 || classPred.Shape[0] != 1 || classPred.Shape[1] != numBoxes {
		return nil, fmt.Errorf("class predictions %q have shape %v; want [1, %d, classes]", classPred.Name, classPred.Shape, numBoxes)
	}
	if anchors.Rank() != 2 || anchors.Shape[1] != 4 || anchors.Shape[0] < numBoxes {
		return nil, fmt.Errorf("anchors %q have shape %v; want [%d, 4]", anchors.Name, anchors.Shape, numBoxes)
	}
	withBg := classPred.Shape[2]
	labelOffset := withBg - p.NumClasses
	if p.NumClasses < 1 || labelOffset < 0 || labelOffset > 1 {
		return nil, fmt.Errorf("num_classes %d with %d class predictions per box; want num_classes >= 1 and at most one background class", p.NumClasses, withBg)
	}
	if p.MaxDetections < 0 || p.MaxClassesPerDetection < 1 {
		return nil, fmt.Errorf("max_detections %d, max_classes_per_detection %d; want >= 0 and >= 1", p.MaxDetections, p.MaxClassesPerDetection)
	}
	n := p.MaxDetections * p.MaxClassesPerDetection
	if p.MaxDetections > maxDetectionOutputs || n > maxDetectionOutputs {
		return nil, unsupportedf("%d detections × %d classes (at most %d outputs)", p.MaxDetections, p.MaxClassesPerDetection, maxDetectionOutputs)
	}
	if p.UseRegularNMS && p.DetectionsPerClass < 1 {
		return nil, fmt.Errorf("detections_per_class %d; want >= 1", p.DetectionsPerClass)
	}
	if !(p.IoUThreshold > 0 && p.IoUThreshold <= 1) {
		return nil, fmt.Errorf("nms_iou_threshold %g; want in (0, 1]", p.IoUThreshold)
	}

	k := &detectionKernel{p: p, boxEnc: boxEnc, classPred: classPred, anchors: anchors,
		outBoxes: outBoxes, outClasses: outClasses, outScores: outScores, outNum: outNum,
		numBoxes: numBoxes, boxStride: boxStride, withBg: withBg, labelOffset: labelOffset}
	var err error
	if k.boxLUT, err = detectionLUT("box encodings", boxEnc); err != nil {
		return nil, err
	}
	if k.anchorLUT, err = detectionLUT("anchors", anchors); err != nil {
		return nil, err
	}
	if k.scoreLUT, err = detectionLUT("class predictions", classPred); err != nil {
		return nil, err
	}
	for _, o := range []*tensor.Tensor{outBoxes, outClasses, outScores, outNum} {
		if err := CheckType("output", o, tensor.Float32); err != nil {
			return nil, err
		}
	}
	// Real files (older SSD exports) leave these shapes out; TFLite sets
	// them at prepare time.
	outBoxes.Shape = append(outBoxes.Shape[:0], 1, n, 4)
	outClasses.Shape = append(outClasses.Shape[:0], 1, n)
	outScores.Shape = append(outScores.Shape[:0], 1, n)
	outNum.Shape = append(outNum.Shape[:0], 1)

	// Scratch, sized once so that Eval does not allocate.
	k.decoded = make([]float32, numBoxes*4)
	if classPred.Type != tensor.Float32 {
		k.scores = make([]float32, numBoxes*withBg)
	}
	k.keepScores = make([]float32, numBoxes)
	k.keepIdx = make([]int32, numBoxes)
	k.active = make([]bool, numBoxes)
	k.selected = make([]int32, numBoxes)
	if p.UseRegularNMS {
		m := numBoxes + p.MaxDetections
		k.classScores = make([]float32, numBoxes)
		k.afterIdx = make([]int32, m)
		k.afterScores = make([]float32, m)
		k.tmpIdx = make([]int32, p.MaxDetections)
		k.tmpScores = make([]float32, p.MaxDetections)
		k.sortIdx = make([]int32, m)
		k.sortTmp = make([]int32, m)
	} else {
		k.numCat = min(p.MaxClassesPerDetection, p.NumClasses)
		k.maxScores = make([]float32, numBoxes)
		k.classIdx = make([]int32, numBoxes*k.numCat)
		k.sortIdx = make([]int32, numBoxes)
		k.sortTmp = make([]int32, numBoxes)
	}
	return k, nil
}

// detectionLUT checks an input's type and, for quantized inputs, returns
// the dequantized value of every byte: (q - zero_point) × scale, which in
// float32 rounds once, like TFLite's float and double formulas.
func detectionLUT(what string, t *tensor.Tensor) (*[256]float32, error) {
	if err := CheckType(what, t, tensor.Float32, tensor.UInt8, tensor.Int8); err != nil {
		return nil, err
	}
	if t.Type == tensor.Float32 {
		return nil, nil
	}
	if err := CheckQuantized(what, t); err != nil {
		return nil, err
	}
	if t.Quant.PerChannel() {
		return nil, unsupportedf("%s %q are quantized per channel", what, t.Name)
	}
	zp, scale := float32(t.ZeroPoint()), t.Scale()
	lut := new([256]float32)
	for b := range lut {
		q := float32(b)
		if t.Type == tensor.Int8 {
			q = float32(int8(b))
		}
		lut[b] = (q - zp) * scale
	}
	return lut, nil
}

type detectionKernel struct {
	p                                        DetectionParams
	boxEnc, classPred, anchors               *tensor.Tensor
	outBoxes, outClasses, outScores, outNum  *tensor.Tensor
	numBoxes, boxStride, withBg, labelOffset int
	numCat                                   int // fast NMS: min(max classes per detection, classes)
	boxLUT, anchorLUT, scoreLUT              *[256]float32
	boxesValid                               bool
	decoded, scores, keepScores              []float32
	keepIdx, selected                        []int32
	active                                   []bool
	maxScores                                []float32 // fast NMS
	classIdx                                 []int32   // fast NMS: top classes per box
	classScores, afterScores, tmpScores      []float32 // regular NMS
	afterIdx, tmpIdx                         []int32   // regular NMS
	sortIdx, sortTmp                         []int32
}

func (k *detectionKernel) Eval() error {
	k.decode()
	scores := k.scores
	if k.scoreLUT == nil {
		scores = k.classPred.Float32s()
	} else {
		for i, b := range k.classPred.Data[:len(scores)] {
			scores[i] = k.scoreLUT[b]
		}
	}
	clear(k.outBoxes.Float32s())
	clear(k.outClasses.Float32s())
	clear(k.outScores.Float32s())
	if k.p.UseRegularNMS {
		return k.regular(scores)
	}
	return k.fast(scores)
}

// load reads the four leading values of row i of t (float or quantized).
func load(t *tensor.Tensor, lut *[256]float32, i, stride int) (a, b, c, d float32) {
	off := i * stride
	if lut == nil {
		v := t.Float32s()[off : off+4]
		return v[0], v[1], v[2], v[3]
	}
	v := t.Data[off : off+4]
	return lut[v[0]], lut[v[1]], lut[v[2]], lut[v[3]]
}

// decode turns center-size encodings into corners. TFLite computes in
// double and rounds to float; the explicit float64 conversions stop Go from
// fusing the multiply and add (an FMA would round differently).
func (k *detectionKernel) decode() {
	ys, xs := float64(k.p.YScale), float64(k.p.XScale)
	hs, ws := float64(k.p.HScale), float64(k.p.WScale)
	k.boxesValid = true
	for i := 0; i < k.numBoxes; i++ {
		y, x, h, w := load(k.boxEnc, k.boxLUT, i, k.boxStride)
		ay, ax, ah, aw := load(k.anchors, k.anchorLUT, i, 4)
		yc := float32(float64(float64(y)/ys*float64(ah)) + float64(ay))
		xc := float32(float64(float64(x)/xs*float64(aw)) + float64(ax))
		hh := float32(0.5 * math.Exp(float64(h)/hs) * float64(ah))
		hw := float32(0.5 * math.Exp(float64(w)/ws) * float64(aw))
		b := k.decoded[i*4 : i*4+4]
		b[0], b[1], b[2], b[3] = yc-hh, xc-hw, yc+hh, xc+hw
		// TFLite rejects inverted boxes (NaN passes) when it runs NMS.
		if b[0] > b[2] || b[1] > b[3] {
			k.boxesValid = false
		}
	}
}

// iou is TFLite's ComputeIntersectionOverUnion in float32; conversions
// keep each product rounded before it is added.
func (k *detectionKernel) iou(i, j int32) float32 {
	a := k.decoded[i*4 : i*4+4]
	b := k.decoded[j*4 : j*4+4]
	areaA := float32((a[2] - a[0]) * (a[3] - a[1]))
	areaB := float32((b[2] - b[0]) * (b[3] - b[1]))
	if areaA <= 0 || areaB <= 0 {
		return 0
	}
	ih := max(min(a[2], b[2])-max(a[0], b[0]), 0)
	iw := max(min(a[3], b[3])-max(a[1], b[1]), 0)
	inter := float32(ih * iw)
	return inter / (areaA + areaB - inter)
}

// nms is TFLite's NonMaxSuppressionSingleClassHelper: candidates with
// score >= threshold, stably sorted by decreasing score, greedily kept
// unless their IoU with a kept box exceeds the threshold. It fills
// k.selected with box indices and returns their number.
func (k *detectionKernel) nms(scores []float32, maxDet int) (int, error) {
	if !k.boxesValid {
		return 0, fmt.Errorf("decoded boxes have ymin > ymax or xmin > xmax")
	}
	kept := 0
	for i, s := range scores {
		if s >= k.p.ScoreThreshold {
			k.keepScores[kept] = s
			k.keepIdx[kept] = int32(i)
			kept++
		}
	}
	order := k.sortIdx[:kept]
	argSortDesc(k.keepScores[:kept], order, k.sortTmp[:kept])
	outSize := min(kept, maxDet)
	active := k.active[:kept]
	for i := range active {
		active[i] = true
	}
	numActive, n := kept, 0
	for i := 0; i < kept; i++ {
		if numActive == 0 || n >= outSize {
			break
		}
		if !active[i] {
			continue
		}
		bi := k.keepIdx[order[i]]
		k.selected[n] = bi
		n++
		active[i] = false
		numActive--
		for j := i + 1; j < kept; j++ {
			if active[j] && k.iou(bi, k.keepIdx[order[j]]) > k.p.IoUThreshold {
				active[j] = false
				numActive--
			}
		}
	}
	return n, nil
}

// fast is TFLite's NonMaxSuppressionMultiClassFastHelper: one NMS over the
// best class score of each box, reporting its top classes.
func (k *detectionKernel) fast(scores []float32) error {
	nc, nk := k.p.NumClasses, k.numCat
	for row := 0; row < k.numBoxes; row++ {
		s := scores[row*k.withBg+k.labelOffset:][:nc]
		top := k.classIdx[row*nk : row*nk+nk]
		topK(s, top)
		k.maxScores[row] = s[top[0]]
	}
	n, err := k.nms(k.maxScores, k.p.MaxDetections)
	if err != nil {
		return err
	}
	boxes, classes, out := k.outBoxes.Float32s(), k.outClasses.Float32s(), k.outScores.Float32s()
	for d, box := range k.selected[:n] {
		s := scores[int(box)*k.withBg+k.labelOffset:][:nc]
		for c, cls := range k.classIdx[int(box)*nk : int(box)*nk+nk] {
			o := k.p.MaxClassesPerDetection*d + c
			copy(boxes[o*4:o*4+4], k.decoded[box*4:box*4+4])
			classes[o] = float32(cls)
			out[o] = s[cls]
		}
	}
	k.outNum.Float32s()[0] = float32(n)
	return nil
}

// regular is TFLite's NonMaxSuppressionMultiClassRegularHelper: NMS per
// class, merging each class's survivors into a running top MaxDetections.
func (k *detectionKernel) regular(scores []float32) error {
	maxDet, size := k.p.MaxDetections, 0
	for col := 0; col < k.p.NumClasses; col++ {
		for row := range k.classScores {
			k.classScores[row] = scores[row*k.withBg+col+k.labelOffset]
		}
		n, err := k.nms(k.classScores, k.p.DetectionsPerClass)
		if err != nil {
			return err
		}
		end := size
		for _, box := range k.selected[:n] {
			k.afterIdx[end] = box*int32(k.withBg) + int32(col+k.labelOffset)
			k.afterScores[end] = k.classScores[box]
			end++
		}
		top := min(end, maxDet)
		// TFLite partially sorts here, leaving ties unordered; a stable
		// order (earlier entries first) is TFLite Micro's tie-break.
		order := k.sortIdx[:end]
		argSortDesc(k.afterScores[:end], order, k.sortTmp[:end])
		for r, src := range order[:top] {
			k.tmpIdx[r] = k.afterIdx[src]
			k.tmpScores[r] = k.afterScores[src]
		}
		copy(k.afterIdx, k.tmpIdx[:top])
		copy(k.afterScores, k.tmpScores[:top])
		size = top
	}
	boxes, classes, out := k.outBoxes.Float32s(), k.outClasses.Float32s(), k.outScores.Float32s()
	for d := 0; d < size; d++ {
		anchor := int(k.afterIdx[d]) / k.withBg
		copy(boxes[d*4:d*4+4], k.decoded[anchor*4:anchor*4+4])
		classes[d] = float32(int(k.afterIdx[d]) - anchor*k.withBg - k.labelOffset)
		out[d] = k.afterScores[d]
	}
	k.outNum.Float32s()[0] = float32(size)
	return nil
}

// topK writes to top the indices of the len(top) largest values, largest
// first and, among equal values, lowest index first. For one class this is
// TFLite's ArgMaxVector (first maximum).
func topK(values []float32, top []int32) {
	n := 0
	for i, v := range values {
		if n == len(top) {
			if !(v > values[top[n-1]]) {
				continue
			}
			n--
		}
		p := n
		for p > 0 && v > values[top[p-1]] {
			top[p] = top[p-1]
			p--
		}
		top[p] = int32(i)
		n++
	}
}

// argSortDesc sets idx to the indices of values in decreasing order,
// stably (equal values keep their order), like TFLite's std::stable_sort.
// It is a bottom-up merge sort through tmp (len(values)) and does not
// allocate.
func argSortDesc(values []float32, idx, tmp []int32) {
	n := len(values)
	for i := range idx {
		idx[i] = int32(i)
	}
	src, dst := idx, tmp
	for width := 1; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			mid, hi := min(lo+width, n), min(lo+2*width, n)
			i, j, o := lo, mid, lo
			for i < mid && j < hi {
				// Take from the right run only when strictly greater, so
				// that ties keep their order.
				if values[src[j]] > values[src[i]] {
					dst[o] = src[j]
					j++
				} else {
					dst[o] = src[i]
					i++
				}
				o++
			}
			o += copy(dst[o:], src[i:mid])
			copy(dst[o:], src[j:hi])
		}
		src, dst = dst, src
	}
	if n > 0 && &src[0] != &idx[0] {
		copy(idx, src)
	}
}
