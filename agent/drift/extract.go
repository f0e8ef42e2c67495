package drift

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Extractor turns one sample of a tensor into numeric features.
//
//   - A vector ([N] or [B, N]) gives N features, one per element, named
//     prefix[i], with the tensor's scale as their step when quantized.
//   - Anything of rank 3 or more ([B, H, W, C], [B, T, C]) gives two
//     features per channel (last dimension), named prefix.c<i>.mean and
//     prefix.c<i>.std: the mean and standard deviation of that channel over
//     the sample's other positions. One value per sample keeps the samples
//     of a window independent, which KS and chi-square assume; pixels of
//     one image are not. The mean follows brightness and offset, the
//     standard deviation contrast (a dirty or fogged lens lowers it).
//
// Quantized values are dequantized (real = scale·(q − zero point)). The
// cost is one pass over the sample's elements with integer arithmetic for
// int8, uint8 and int16.
type Extractor struct {
	dtype     tensor.DType
	features  []FeatureSpec
	elems     int // elements per sample
	channels  int // 0 for a vector
	scale, zp float64
	sums      []int64   // per-channel scratch for integer types
	fsums     []float64 // per-channel scratch for float32
}

// NewExtractor prepares feature extraction for spec; prefix starts every
// feature name (e.g. "input0"). The first dimension of a spec of rank 2 or
// more is the batch dimension and is not part of a sample.
func NewExtractor(prefix string, spec infer.TensorSpec) (*Extractor, error) {
	fail := func(format string, args ...any) (*Extractor, error) {
		return nil, fmt.Errorf("drift features of %s: "+format, append([]any{prefix}, args...)...)
	}
	switch spec.DType {
	case tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16:
	default:
		return fail("dtype %s not supported; want float32, int8, uint8 or int16", spec.DType)
	}
	if len(spec.Shape) == 0 {
		return fail("scalar tensor; want a vector or more")
	}
	sample := spec.Shape
	if len(sample) >= 2 {
		sample = sample[1:]
	}
	e := &Extractor{dtype: spec.DType, elems: 1, scale: 1}
	for _, d := range sample {
		if d <= 0 {
			return fail("shape %v has dimension %d", spec.Shape, d)
		}
		if e.elems > math.MaxInt32/d {
			return fail("shape %v too large", spec.Shape)
		}
		e.elems *= d
	}
	if spec.Quantized {
		if !(spec.Scale > 0) || math.IsInf(float64(spec.Scale), 0) {
			return fail("quantization scale %g; want > 0", spec.Scale)
		}
		e.scale, e.zp = float64(spec.Scale), float64(spec.ZeroPoint)
	}
	if len(sample) == 1 {
		if e.elems > MaxFeatures {
			return fail("%d features; at most %d", e.elems, MaxFeatures)
		}
		step := 0.0
		if spec.DType != tensor.Float32 {
			step = e.scale
		}
		for i := range e.elems {
			e.features = append(e.features, FeatureSpec{Name: fmt.Sprintf("%s[%d]", prefix, i), Step: step})
		}
		return e, nil
	}
	e.channels = sample[len(sample)-1]
	if 2*e.channels > MaxFeatures {
		return fail("%d channels; at most %d", e.channels, MaxFeatures/2)
	}
	for c := range e.channels {
		e.features = append(e.features,
			FeatureSpec{Name: fmt.Sprintf("%s.c%d.mean", prefix, c)},
			FeatureSpec{Name: fmt.Sprintf("%s.c%d.std", prefix, c)})
	}
	e.sums = make([]int64, 2*e.channels)
	e.fsums = make([]float64, 2*e.channels)
	return e, nil
}

// Features lists the features Extract produces, in order.
func (e *Extractor) Features() []FeatureSpec { return e.features }

// Extract appends the features of one sample (raw little-endian bytes) to
// dst and returns it.
func (e *Extractor) Extract(dst []float64, data []byte) ([]float64, error) {
	if want := e.elems * e.dtype.Size(); len(data) != want {
		return dst, fmt.Errorf("drift input: %d bytes; want %d (%d × %s)", len(data), want, e.elems, e.dtype)
	}
	if e.channels == 0 {
		return e.vector(dst, data), nil
	}
	return e.perChannel(dst, data), nil
}

func (e *Extractor) vector(dst []float64, data []byte) []float64 {
	switch e.dtype {
	case tensor.Float32:
		for i := 0; i < len(data); i += 4 {
			dst = append(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))))
		}
	case tensor.Int8:
		for _, b := range data {
			dst = append(dst, e.scale*(float64(int8(b))-e.zp))
		}
	case tensor.UInt8:
		for _, b := range data {
			dst = append(dst, e.scale*(float64(b)-e.zp))
		}
	case tensor.Int16:
		for i := 0; i < len(data); i += 2 {
			dst = append(dst, e.scale*(float64(int16(binary.LittleEndian.Uint16(data[i:])))-e.zp))
		}
	}
	return dst
}

func (e *Extractor) perChannel(dst []float64, data []byte) []float64 {
	c := e.channels
	n := float64(e.elems / c)
	if e.dtype == tensor.Float32 {
		s := e.fsums
		clear(s)
		for i := 0; i < len(data); i += 4 * c {
			for j := range c {
				v := float64(math.Float32frombits(binary.LittleEndian.Uint32(data[i+4*j:])))
				s[2*j] += v
				s[2*j+1] += v * v
			}
		}
		for j := range c {
			m := s[2*j] / n
			dst = append(dst, m, math.Sqrt(max(0, s[2*j+1]/n-m*m)))
		}
		return dst
	}
	s := e.sums
	clear(s)
	switch {
	case c == 1 && (e.dtype == tensor.Int8 || e.dtype == tensor.UInt8):
		s[0], s[1] = sums8(data, e.dtype == tensor.Int8)
	case e.dtype == tensor.Int8:
		intSums(s, c, unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(data))), len(data)))
	case e.dtype == tensor.UInt8:
		intSums(s, c, data)
	case e.dtype == tensor.Int16:
		for i := 0; i < len(data); i += 2 * c {
			for j := range c {
				q := int64(int16(binary.LittleEndian.Uint16(data[i+2*j:])))
				s[2*j] += q
				s[2*j+1] += q * q
			}
		}
	}
	for j := range c {
		// Exact integer sums, then one dequantization per channel.
		mq := float64(s[2*j]) / n
		vq := float64(s[2*j+1])/n - mq*mq
		dst = append(dst, e.scale*(mq-e.zp), e.scale*math.Sqrt(max(0, vq)))
	}
	return dst
}

// intSums accumulates per-channel sums and sums of squares of 8-bit
// values.
func intSums[T int8 | uint8](s []int64, c int, v []T) {
	for i := 0; i+c <= len(v); i += c {
		for j, x := range v[i : i+c] {
			q := int64(x)
			s[2*j] += q
			s[2*j+1] += q * q
		}
	}
}

// squares8 holds the square of every byte read as unsigned ([0]) and as
// signed ([1]).
var squares8 = func() (t [2][256]uint32) {
	for i := range 256 {
		t[0][i] = uint32(i * i)
		q := int(int8(uint8(i)))
		t[1][i] = uint32(q * q)
	}
	return t
}()

// sums8 is the sum and the sum of squares of a single channel of 8-bit
// values (grayscale frames such as person_detect's), 1.5× faster than a
// plain loop: the sum takes 8 bytes at a time in 16-bit lanes of a
// uint64, the squares come from a table. Signed bytes are summed as
// unsigned q+128 and corrected after.
func sums8(b []byte, signed bool) (s, s2 int64) {
	const lanes = 0x00ff00ff00ff00ff
	var flip uint64
	sq := &squares8[0]
	if signed {
		flip, sq = 0x8080808080808080, &squares8[1]
	}
	for len(b) >= 8 {
		// A lane gains at most 2·255 per word: 128 words fit 16 bits.
		var acc uint64
		words := 0
		for ; len(b) >= 8 && words < 128; words++ {
			w := binary.LittleEndian.Uint64(b) ^ flip
			acc += w&lanes + (w>>8)&lanes
			s2 += int64(sq[b[0]] + sq[b[1]] + sq[b[2]] + sq[b[3]] + sq[b[4]] + sq[b[5]] + sq[b[6]] + sq[b[7]])
			b = b[8:]
		}
		s += int64(acc&0xffff + acc>>16&0xffff + acc>>32&0xffff + acc>>48)
		if signed {
			s -= 128 * 8 * int64(words)
		}
	}
	for _, x := range b {
		q := int64(x)
		if signed {
			q = int64(int8(x))
		}
		s += q
		s2 += q * q
	}
	return s, s2
}

// Top1 returns the index of the largest element of one sample of a
// classifier's output (raw bytes, as Extract takes them); ties go to the
// lowest index and NaN never wins. Quantization keeps the order (scale >
// 0), so quantized values are compared as they are.
func Top1(spec infer.TensorSpec, data []byte) (int, error) {
	size := spec.DType.Size()
	switch spec.DType {
	case tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16:
	default:
		return NoClass, fmt.Errorf("top class: dtype %s not supported", spec.DType)
	}
	if len(data) == 0 || len(data)%size != 0 {
		return NoClass, fmt.Errorf("top class: %d bytes is not a whole number of %s", len(data), spec.DType)
	}
	best, bestV := NoClass, math.Inf(-1)
	for i := 0; i < len(data)/size; i++ {
		var v float64
		switch spec.DType {
		case tensor.Float32:
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		case tensor.Int8:
			v = float64(int8(data[i]))
		case tensor.UInt8:
			v = float64(data[i])
		case tensor.Int16:
			v = float64(int16(binary.LittleEndian.Uint16(data[2*i:])))
		}
		if v > bestV || (best == NoClass && !math.IsNaN(v)) {
			best, bestV = i, v
		}
	}
	if best == NoClass {
		return NoClass, fmt.Errorf("top class: every score is NaN")
	}
	return best, nil
}
