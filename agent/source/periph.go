package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"github.com/edged-dev/edged/agent/infer"
)

// Sensor is what a periph source needs of a driver: one sample of a fixed
// number of features per call.
type Sensor interface {
	Sample(ctx context.Context) ([]float64, error)
	// Features names the values of a sample, in order.
	Features() []string
}

// PeriphOptions configures a sensor source.
type PeriphOptions struct {
	// Model and Version the windows go to (Version "" follows the current).
	Model   string
	Version string
	// Interval between samples.
	Interval time.Duration
	// Window is the number of samples N in one input [1, N, F] (or the
	// model's input shape when it holds N*F values).
	Window int
	// Stride is the number of new samples between inferences once the
	// window is full; 0 means Window (windows do not overlap).
	Stride int
	// RequestTimeout bounds one inference; default 10s.
	RequestTimeout time.Duration
}

// Periph samples a sensor at an interval and runs each full window of
// samples through a model. A failed read empties the window, so a window
// never spans a gap.
type Periph struct {
	opts   PeriphOptions
	sensor Sensor
	inf    Inferer
	log    *slog.Logger
	warn   *rateLog
	win    *Window
	// OnResult, if set, sees every inference (tests).
	OnResult func(in []infer.Tensor, out []infer.Tensor, err error)
}

// NewPeriph checks the options against the model; the source owns sensor
// from here on and closes it when Run returns, if it is an io.Closer.
func NewPeriph(o PeriphOptions, sensor Sensor, inf Inferer, log *slog.Logger) (*Periph, error) {
	if o.Interval <= 0 {
		return nil, fmt.Errorf("periph source: interval %v: must be > 0", o.Interval)
	}
	setDefault(&o.RequestTimeout, 10*time.Second)
	f := len(sensor.Features())
	win, err := NewWindow(o.Window, f, o.Stride)
	if err != nil {
		return nil, fmt.Errorf("periph source: %w", err)
	}
	mi, err := inf.Model(o.Model, o.Version)
	if err != nil {
		return nil, fmt.Errorf("periph source: %w", err)
	}
	if len(mi.Inputs) != 1 {
		return nil, fmt.Errorf("periph source: model %q has %d inputs; a window feeds one", o.Model, len(mi.Inputs))
	}
	if _, err := windowShape(o.Window, f, mi.Inputs[0]); err != nil {
		return nil, fmt.Errorf("periph source: model %q: %w", o.Model, err)
	}
	return &Periph{opts: o, sensor: sensor, inf: inf, log: log, warn: newRateLog(log, 30*time.Second), win: win}, nil
}

// Run samples until ctx ends, then closes the sensor and returns nil.
func (p *Periph) Run(ctx context.Context) error {
	if c, ok := p.sensor.(io.Closer); ok {
		defer c.Close()
	}
	tick := time.NewTicker(p.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		p.step(ctx)
	}
}

// step takes one sample and, when a window is due, runs it.
func (p *Periph) step(ctx context.Context) {
	s, err := p.sensor.Sample(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.warn.Warn("read", "periph source: sensor read failed", "model", p.opts.Model, "err", err)
		}
		p.win.Reset()
		return
	}
	due, err := p.win.Add(s)
	if err != nil {
		p.warn.Warn("read", "periph source: bad sample", "err", err)
		p.win.Reset()
		return
	}
	if !due {
		return
	}
	mi, err := p.inf.Model(p.opts.Model, p.opts.Version)
	if err == nil && len(mi.Inputs) != 1 {
		err = fmt.Errorf("model %q now has %d inputs; a window feeds one", p.opts.Model, len(mi.Inputs))
	}
	if err != nil {
		p.warn.Warn("model", "periph source: model not usable", "model", p.opts.Model, "err", err)
		return
	}
	t, err := windowTensor(p.win.Values(), p.opts.Window, len(s), mi.Inputs[0])
	if err != nil {
		p.warn.Warn("encode", "periph source: cannot encode window", "model", p.opts.Model, "err", err)
		return
	}
	in := []infer.Tensor{t}
	ictx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout)
	out, err := p.inf.Infer(ictx, p.opts.Model, p.opts.Version, in)
	cancel()
	if p.OnResult != nil {
		p.OnResult(in, out, err)
	}
	if err != nil && ctx.Err() == nil {
		p.warn.Warn("infer", "periph source: inference failed", "model", p.opts.Model, "err", err)
	}
}

// ErrNoI2C means the host has no usable I²C bus of the name asked for.
var ErrNoI2C = errors.New("no i2c bus")

// OpenBME280 initializes periph's host drivers, opens I²C bus name ("" is
// the first one; "1" or "/dev/i2c-1" name bus 1) and the BME280 at addr
// (0x76 or 0x77). Closing the sensor closes the bus.
func OpenBME280(name string, addr uint16) (*BME280, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("periph host init: %w", err)
	}
	bus, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v (enable I2C, e.g. dtparam=i2c_arm=on on a Raspberry Pi, and give the edged user the i2c group)", ErrNoI2C, name, err)
	}
	d, err := NewBME280(bus, addr)
	if err != nil {
		bus.Close()
		return nil, err
	}
	d.close = bus.Close
	return d, nil
}
