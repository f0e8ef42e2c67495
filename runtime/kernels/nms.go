package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// NMSParams are the scalar inputs of NON_MAX_SUPPRESSION_V4/V5 that must
// be constant: the output length.
type NMSParams struct {
	MaxOutputSize int
	// Soft selects V5 (soft NMS with a Gaussian sigma input and a scores
	// output).
	Soft bool
}

// NonMaxSuppression selects boxes by descending score (TFLite's
// NON_MAX_SUPPRESSION_V4, and V5 with soft NMS), dropping those whose IoU
// with a selected box reaches the threshold or whose score is not above
// the score threshold; V5 decays scores by exp(−IoU²/(2σ)) instead when
// σ > 0. boxes is float32 [n, 4] (y1, x1, y2, x2, corners in any order),
// scores float32 [n]; iouThreshold, scoreThreshold and sigma are float32
// scalars read at Eval. Outputs: selected indices (int32
// [MaxOutputSize], unused entries 0), for V5 their scores, and the
// count (int32 scalar). Candidates leave the queue in the order of
// libc++'s std::priority_queue, as in the oracle, so that equal scores
// are taken in the same order.
func NonMaxSuppression(p NMSParams, boxes, scores, iouThreshold, scoreThreshold, sigma *tensor.Tensor, selected, selScores, count *tensor.Tensor) (Kernel, error) {
	op := "NON_MAX_SUPPRESSION_V4"
	if p.Soft {
		op = "NON_MAX_SUPPRESSION_V5"
	}
	if boxes.Type != tensor.Float32 || boxes.Rank() != 2 || boxes.Shape[1] != 4 {
		return nil, fmt.Errorf("%s: boxes %q are %s%v; want float32 [n, 4]", op, boxes.Name, boxes.Type, boxes.Shape)
	}
	n := boxes.Shape[0]
	if scores.Type != tensor.Float32 || scores.Rank() != 1 || scores.Shape[0] != n {
		return nil, fmt.Errorf("%s: scores %q are %s%v; want float32 [%d]", op, scores.Name, scores.Type, scores.Shape, n)
	}
	scalars := []*tensor.Tensor{iouThreshold, scoreThreshold}
	if p.Soft {
		scalars = append(scalars, sigma)
	}
	for _, t := range scalars {
		if t.Type != tensor.Float32 || t.Rank() != 0 {
			return nil, fmt.Errorf("%s: %q is %s%v; want a float32 scalar", op, t.Name, t.Type, t.Shape)
		}
	}
	if p.MaxOutputSize < 0 || p.MaxOutputSize > math.MaxInt32/8 {
		return nil, fmt.Errorf("%s: max_output_size %d out of range", op, p.MaxOutputSize)
	}
	outs := []*tensor.Tensor{selected, count}
	if p.Soft {
		outs = append(outs, selScores)
	}
	for _, t := range outs {
		want := tensor.Int32
		if t == selScores {
			want = tensor.Float32
		}
		if t.Type != want {
			return nil, fmt.Errorf("%s: output %q has type %s; want %s", op, t.Name, t.Type, want)
		}
	}
	m := p.MaxOutputSize
	selected.Shape = append(selected.Shape[:0], m)
	count.Shape = count.Shape[:0]
	if p.Soft {
		selScores.Shape = append(selScores.Shape[:0], m)
	}
	q := &nmsQueue{c: make([]nmsCandidate, 0, n)}
	sel := make([]int32, m)
	selS := make([]float32, m)
	return Func(func() error {
		ts := []*tensor.Tensor{boxes, scores, iouThreshold, scoreThreshold, selected, count}
		if p.Soft {
			ts = append(ts, sigma, selScores)
		}
		if err := shapeCheckData(ts...); err != nil {
			return err
		}
		var sg float32
		if p.Soft {
			sg = sigma.Float32s()[0]
		}
		k := nmsRun(boxes.Float32s(), scores.Float32s()[:n], m, iouThreshold.Float32s()[0], scoreThreshold.Float32s()[0], sg, q, sel, selS)
		copy(selected.Int32s()[:m], sel)
		clear(selected.Int32s()[k:m])
		if p.Soft {
			copy(selScores.Float32s()[:m], selS)
			clear(selScores.Float32s()[k:m])
		}
		count.Int32s()[0] = int32(k)
		return nil
	}), nil
}

type nmsCandidate struct {
	index         int32
	score         float32
	suppressBegin int32
}

// nmsQueue is a max-heap on score with libc++'s push_heap (sift up) and
// pop_heap (Floyd's sift down to a leaf, then sift up of the last
// element), which fixes the order of equal scores.
type nmsQueue struct{ c []nmsCandidate }

func (q *nmsQueue) push(x nmsCandidate) {
	q.c = append(q.c, x)
	q.siftUp(len(q.c))
}

// siftUp is libc++'s __sift_up over the first n elements.
func (q *nmsQueue) siftUp(n int) {
	if n <= 1 {
		return
	}
	h := q.c
	last := n - 1
	l := (n - 2) / 2
	if !(h[l].score < h[last].score) {
		return
	}
	t := h[last]
	for {
		h[last] = h[l]
		last = l
		if l == 0 {
			break
		}
		l = (l - 1) / 2
		if !(h[l].score < t.score) {
			break
		}
	}
	h[last] = t
}

func (q *nmsQueue) pop() nmsCandidate {
	h := q.c
	n := len(h)
	top := h[0]
	if n > 1 {
		// Floyd: move the larger child up until the hole is a leaf.
		hole, child := 0, 0
		for {
			child = 2*child + 1
			if child+1 < n && h[child].score < h[child+1].score {
				child++
			}
			h[hole] = h[child]
			hole = child
			if child > (n-2)/2 {
				break
			}
		}
		last := n - 1
		if hole == last {
			h[hole] = top
		} else {
			h[hole] = h[last]
			h[last] = top
			q.c = h
			q.siftUp(hole + 1)
		}
	}
	q.c = h[:n-1]
	return top
}

// nmsIoU is TFLite's ComputeIntersectionOverUnion in float32 steps.
func nmsIoU(b []float32, i, j int32) float32 {
	bi, bj := b[4*i:4*i+4], b[4*j:4*j+4]
	iy0, iy1 := min(bi[0], bi[2]), max(bi[0], bi[2])
	ix0, ix1 := min(bi[1], bi[3]), max(bi[1], bi[3])
	jy0, jy1 := min(bj[0], bj[2]), max(bj[0], bj[2])
	jx0, jx1 := min(bj[1], bj[3]), max(bj[1], bj[3])
	ai := float32((iy1 - iy0) * (ix1 - ix0))
	aj := float32((jy1 - jy0) * (jx1 - jx0))
	if ai <= 0 || aj <= 0 {
		return 0
	}
	inter := float32(max(min(iy1, jy1)-max(iy0, jy0), 0) * max(min(ix1, jx1)-max(ix0, jx0), 0))
	return inter / (ai + aj - inter)
}

// nmsRun is TFLite's reference NonMaxSuppression; it returns the number
// of boxes selected into sel (and their scores into selS).
func nmsRun(boxes, scores []float32, maxOut int, iouThr, scoreThr, sigma float32, q *nmsQueue, sel []int32, selS []float32) int {
	q.c = q.c[:0]
	for i, s := range scores {
		if s > scoreThr {
			q.push(nmsCandidate{int32(i), s, 0})
		}
	}
	numOut := min(len(q.c), maxOut)
	if numOut == 0 {
		return 0
	}
	var scale float32
	if sigma > 0 {
		scale = float32(-0.5 / float64(sigma))
	}
	k := 0
	for k < numOut && len(q.c) > 0 {
		c := q.pop()
		orig := c.score
		hard := false
		for j := k - 1; j >= int(c.suppressBegin); j-- {
			iou := nmsIoU(boxes, c.index, sel[j])
			if iou >= iouThr {
				hard = true
				break
			}
			if sigma > 0 {
				c.score *= float32(math.Exp(float64(float32(scale*iou) * iou)))
			}
			if c.score <= scoreThr {
				break
			}
		}
		c.suppressBegin = int32(k)
		if !hard {
			if c.score == orig {
				sel[k] = c.index
				selS[k] = c.score
				k++
			}
			if c.score > scoreThr {
				q.push(c)
			}
		}
	}
	return k
}
