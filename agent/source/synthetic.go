// Package source turns readings into inference requests. Each source runs
// until its context ends and feeds one model.
package source

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Inferer is what a source needs of the agent.
type Inferer interface {
	Infer(ctx context.Context, model, version string, in []infer.Tensor) ([]infer.Tensor, error)
	Model(name, version string) (infer.ModelInfo, error)
}

// Synthetic generates inputs for demos and tests: uniform noise, a sine
// wave, or files replayed in turn.
type Synthetic struct {
	cfg    config.Source
	inf    Inferer
	log    *slog.Logger
	replay [][]byte
	rng    *rand.Rand
	n      int
	// OnResult, if set, sees every result (tests).
	OnResult func(in []infer.Tensor, out []infer.Tensor, err error)
}

// NewSynthetic checks the source against its model; resolve maps config
// paths to files.
func NewSynthetic(c config.Source, resolve func(string) string, inf Inferer, log *slog.Logger) (*Synthetic, error) {
	if c.Type != "synthetic" {
		return nil, fmt.Errorf("source type %q is not available in this build", c.Type)
	}
	mi, err := inf.Model(c.Model, "")
	if err != nil {
		return nil, err
	}
	s := &Synthetic{cfg: c, inf: inf, log: log, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
	if c.Pattern == "replay" {
		if len(mi.Inputs) != 1 {
			return nil, fmt.Errorf("replay feeds one input; model %q has %d", c.Model, len(mi.Inputs))
		}
		want := tensor.NumElements(mi.Inputs[0].Shape) * mi.Inputs[0].DType.Size()
		for _, f := range c.Files {
			b, err := ReadInputFile(resolve(f))
			if err != nil {
				return nil, err
			}
			if len(b) != want {
				return nil, fmt.Errorf("replay file %s has %d bytes of input; model %q input %s%v needs %d", f, len(b), c.Model, mi.Inputs[0].DType, mi.Inputs[0].Shape, want)
			}
			s.replay = append(s.replay, b)
		}
	}
	return s, nil
}

// Run produces one request per interval until ctx ends.
func (s *Synthetic) Run(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.Interval.D())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		mi, err := s.inf.Model(s.cfg.Model, "")
		if err != nil {
			s.log.Warn("synthetic source: model gone", "model", s.cfg.Model, "err", err)
			continue
		}
		in := s.next(mi)
		out, err := s.inf.Infer(ctx, s.cfg.Model, "", in)
		if s.OnResult != nil {
			s.OnResult(in, out, err)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("synthetic source: inference failed", "model", s.cfg.Model, "err", err)
			continue
		}
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.Debug("synthetic inference", "model", s.cfg.Model, "n", s.n, "top1", Top1(out[0], mi.Outputs[0]))
		}
	}
}

func (s *Synthetic) next(mi infer.ModelInfo) []infer.Tensor {
	s.n++
	// A configured shift makes a drifting input (demos, drift tests).
	var shift float64
	if sh := s.cfg.Shift; sh != nil && s.n > sh.After {
		shift = sh.Mean
	}
	in := make([]infer.Tensor, len(mi.Inputs))
	for i, spec := range mi.Inputs {
		n := tensor.NumElements(spec.Shape)
		t := infer.Tensor{Name: spec.Name, DType: spec.DType, Shape: spec.Shape, Data: make([]byte, n*spec.DType.Size())}
		switch s.cfg.Pattern {
		case "replay":
			copy(t.Data, s.replay[(s.n-1)%len(s.replay)])
		case "sine":
			for k := 0; k < n; k++ {
				v := math.Sin(2 * math.Pi * (float64(s.n) + float64(k)/float64(n)) / 16)
				putValue(t.Data, k, spec, v+shift)
			}
		default:
			for k := 0; k < n; k++ {
				putValue(t.Data, k, spec, s.rng.Float64()*2-1+shift)
			}
		}
		in[i] = t
	}
	return in
}

// putValue writes real value v at element k, quantizing when the tensor is
// quantized and scaling [-1, 1] onto the type's range otherwise.
func putValue(b []byte, k int, spec infer.TensorSpec, v float64) {
	q := func(lo, hi float64) float64 {
		if spec.Quantizes() {
			return spec.Quantize(v)
		}
		return math.Max(lo, math.Min(hi, math.Round(lo+(v+1)/2*(hi-lo))))
	}
	switch spec.DType {
	case tensor.Float32:
		binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(float32(v)))
	case tensor.Int8:
		b[k] = byte(int8(q(-128, 127)))
	case tensor.UInt8:
		b[k] = byte(q(0, 255))
	case tensor.Int16:
		binary.LittleEndian.PutUint16(b[2*k:], uint16(int16(q(-32768, 32767))))
	case tensor.Int32:
		binary.LittleEndian.PutUint32(b[4*k:], uint32(int32(v*1000)))
	}
}

// Top1 returns the index of the largest element of an output (for logs).
func Top1(t infer.Tensor, spec infer.TensorSpec) int {
	best, bestV := -1, math.Inf(-1)
	n := len(t.Data) / max(1, t.DType.Size())
	for k := 0; k < n; k++ {
		var v float64
		switch t.DType {
		case tensor.Float32:
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*k:])))
		case tensor.Int8:
			v = float64(int8(t.Data[k]))
		case tensor.UInt8:
			v = float64(t.Data[k])
		default:
			return -1
		}
		if v > bestV {
			best, bestV = k, v
		}
	}
	return best
}

// ReadInputFile reads raw tensor bytes, or the pixels of a BMP image (8-bit
// gray or 24-bit colour, uncompressed) top row first, RGB order.
func ReadInputFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(strings.ToLower(path), ".bmp") {
		return b, nil
	}
	px, err := DecodeBMP(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return px, nil
}

// DecodeBMP returns the pixel bytes of an uncompressed 8- or 24-bit BMP,
// top row first, without row padding; 24-bit pixels come out as RGB.
func DecodeBMP(b []byte) ([]byte, error) {
	if len(b) < 54 || b[0] != 'B' || b[1] != 'M' {
		return nil, errors.New("not a BMP file")
	}
	off := int(binary.LittleEndian.Uint32(b[10:]))
	w := int(int32(binary.LittleEndian.Uint32(b[18:])))
	h := int(int32(binary.LittleEndian.Uint32(b[22:])))
	bpp := int(binary.LittleEndian.Uint16(b[28:]))
	comp := binary.LittleEndian.Uint32(b[30:])
	if comp != 0 || (bpp != 8 && bpp != 24) {
		return nil, fmt.Errorf("BMP with %d bits per pixel, compression %d: want uncompressed 8 or 24 bit", bpp, comp)
	}
	topDown := h < 0
	if topDown {
		h = -h
	}
	if w <= 0 || h <= 0 || w > 1<<14 || h > 1<<14 {
		return nil, fmt.Errorf("BMP size %dx%d", w, h)
	}
	ch := bpp / 8
	stride := (w*ch + 3) &^ 3
	if off < 0 || off > len(b) || len(b)-off < stride*h {
		return nil, fmt.Errorf("BMP pixel data truncated: %d bytes for %dx%d", len(b)-off, w, h)
	}
	out := make([]byte, 0, w*h*ch)
	for y := 0; y < h; y++ {
		row := h - 1 - y
		if topDown {
			row = y
		}
		r := b[off+row*stride : off+row*stride+w*ch]
		if ch == 1 {
			out = append(out, r...)
			continue
		}
		for x := 0; x < w; x++ {
			out = append(out, r[3*x+2], r[3*x+1], r[3*x])
		}
	}
	return out, nil
}
