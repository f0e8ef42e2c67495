package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// The worked example. Calibration: the BMP280 datasheet's example (section
// 3.12: dig_T1..dig_P9) for temperature and pressure, and humidity
// parameters of a real BME280 (dig_H1 75, H2 362, H3 0, H4 313, H5 50,
// H6 30). Raw readings adc_T 519888, adc_P 415148 (the datasheet's) and
// adc_H 30000.
//
// Temperature (BME280_compensate_T_int32):
//
//	var1 = ((519888>>3 − 27504<<1) × 26435) >> 11 = (9978 × 26435) >> 11 = 263768430 >> 11 = 128793
//	var2 = ((((519888>>4 − 27504)²) >> 12) × −1000) >> 14 = ((4989² = 24890121) >> 12 = 6076) × −1000 >> 14 = −6076000 >> 14 = −371
//	t_fine = 128422; T = (128422×5 + 128) >> 8 = 642238 >> 8 = 2508 → 25.08 °C (the datasheet's 25.08)
//
// Pressure (BME280_compensate_P_int64), var1 = t_fine − 128000 = 422:
//
//	var2 = 422² × −7 + (422×140)<<17 + 2855<<35 = −1246588 + 7743733760 + 98097053040640 = 98104795527812
//	var1 = (422²×3024)>>8 + (422×−10685)<<12 = 2103617 − 18469150720 = −18467047103
//	var1 = ((1<<47 − 18467047103) × 36477) >> 33 = 597560748
//	p = 1048576 − 415148 = 633428; p = ((633428<<31 − var2) × 3125) / var1 = 6600644165
//	var1 = (6000 × (p>>13)²) >> 25 = 116089612; var2 = (−14600 × p) >> 19 = −183810053
//	P = ((p + var1 + var2) >> 8) + 15500<<4 = 25767233 (Q24.8) = 100653 + 65/256 = 100653.25390625 Pa = 1006.5325390625 hPa
//	(the datasheet's float formula gives 100653.27 Pa)
//
// Humidity (bme280_compensate_H_int32), v = t_fine − 76800 = 51622:
//
//	a = ((30000<<14) − (313<<20) − 50×51622 + 16384) >> 15 = 160750996 >> 15 = 4905
//	b = ((((51622×30>>10 = 1512) × (0 + 32768)) >> 10 = 48384) + 2097152) × 362 + 8192) >> 14 = 776692224 >> 14 = 47405
//	v = a×b = 232521525; v −= (((v>>15 = 7095)² >> 7 = 393273) × 75) >> 4 = 1843467 → 230678058
//	H = v >> 12 = 56317 (Q22.10) = 54 + 1021/1024 = 54.9970703125 %RH (the double formula gives 55.0007)
var (
	// Registers 0x88..0xA1: T1 27504, T2 26435, T3 −1000, P1 36477, P2 −10685,
	// P3 3024, P4 2855, P5 140, P6 −7, P7 15500, P8 −14600, P9 6000 as
	// little-endian 16-bit words, 0xA0 unused, 0xA1 = H1 75.
	calib0 = []byte{0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, 0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27, 0x0B,
		0x8C, 0x00, 0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, 0x00, 0x4B}
	// Registers 0xE1..0xE7: H2 362 (0x016A), H3 0, H4 313 = 0x13<<4 | 0x9,
	// H5 50 = 0x03<<4 | 0x2 (0xE5 = 0x2 high nibble, 0x9 low), H6 30.
	calib1 = []byte{0x6A, 0x01, 0x00, 0x13, 0x29, 0x03, 0x1E}
	// Registers 0xF7..0xFE: adc_P 0x655AC, adc_T 0x7EED0 (20 bits, msb lsb
	// xlsb>>4), adc_H 0x7530.
	rawData = []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x75, 0x30}
)

func bme280InitOps(addr uint16) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0xD0}, R: []byte{0x60}},
		{Addr: addr, W: []byte{0x88}, R: calib0},
		{Addr: addr, W: []byte{0xE1}, R: calib1},
		{Addr: addr, W: []byte{0xF2, 0x01}},
		{Addr: addr, W: []byte{0xF5, 0x00}},
	}
}

// bme280ReadOps is one forced measurement: status busy `busy` times.
func bme280ReadOps(addr uint16, busy int) []i2ctest.IO {
	ops := []i2ctest.IO{{Addr: addr, W: []byte{0xF4, 0x25}}}
	for i := 0; i < busy; i++ {
		ops = append(ops, i2ctest.IO{Addr: addr, W: []byte{0xF3}, R: []byte{0x08}})
	}
	return append(ops,
		i2ctest.IO{Addr: addr, W: []byte{0xF3}, R: []byte{0x00}},
		i2ctest.IO{Addr: addr, W: []byte{0xF7}, R: rawData})
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func TestBME280Read(t *testing.T) {
	tests := []struct {
		name string
		busy int
	}{
		{name: "ready", busy: 0},
		{name: "busy twice", busy: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: append(bme280InitOps(0x77), bme280ReadOps(0x77, tt.busy)...), DontPanic: true}
			d, err := NewBME280(bus, 0x77)
			if err != nil {
				t.Fatal(err)
			}
			d.sleep = noSleep
			got, err := d.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := BME280Reading{CentiCelsius: 2508, PressureQ8: 25767233, HumidityQ10: 56317}
			if got != want {
				t.Errorf("Read = %+v; want %+v", got, want)
			}
			if err := bus.Close(); err != nil {
				t.Errorf("not every recorded op was used: %v", err)
			}
			f := got.Features()
			wantF := []float64{25.08, 1006.5325390625, 54.9970703125}
			for i := range wantF {
				if math.Abs(f[i]-wantF[i]) > 1e-9 {
					t.Errorf("Features()[%d] = %v; want %v", i, f[i], wantF[i])
				}
			}
		})
	}
}

func TestNewBME280Errors(t *testing.T) {
	tests := []struct {
		name    string
		ops     []i2ctest.IO
		wantErr string
	}{
		{name: "bmp280", ops: []i2ctest.IO{{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x58}}}, wantErr: "chip id 0x58 is a BMP280"},
		{name: "other chip", ops: []i2ctest.IO{{Addr: 0x76, W: []byte{0xD0}, R: []byte{0xFF}}}, wantErr: "chip id 0xff; want 0x60"},
		{name: "no device", ops: nil, wantErr: "read chip id"},
		{name: "calibration", ops: bme280InitOps(0x76)[:2], wantErr: "read calibration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBME280(&i2ctest.Playback{Ops: tt.ops, DontPanic: true}, 0x76)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewBME280 error = %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBME280Skipped(t *testing.T) {
	ops := append(bme280InitOps(0x76), bme280ReadOps(0x76, 0)...)
	ops[len(ops)-1].R = []byte{0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}
	d, err := NewBME280(&i2ctest.Playback{Ops: ops, DontPanic: true}, 0x76)
	if err != nil {
		t.Fatal(err)
	}
	d.sleep = noSleep
	if _, err := d.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "skipped") {
		t.Errorf("Read of reset values: error = %v; want measurement skipped", err)
	}
}

// TestOpenBME280Missing: this machine has no /dev/i2c-99; the error says
// so and what to check, without a panic.
func TestOpenBME280Missing(t *testing.T) {
	_, err := OpenBME280("/dev/i2c-99", BME280Addr)
	if !errors.Is(err, ErrNoI2C) || !strings.Contains(err.Error(), "i2c group") {
		t.Errorf("OpenBME280(/dev/i2c-99) error = %v; want ErrNoI2C with a hint", err)
	}
}

// scriptedSensor returns its samples in turn; a nil sample is a failed read.
type scriptedSensor struct {
	samples [][]float64
	n       int
	closed  bool
}

func (s *scriptedSensor) Sample(ctx context.Context) ([]float64, error) {
	if s.n >= len(s.samples) {
		return nil, errors.New("no more samples")
	}
	v := s.samples[s.n]
	s.n++
	if v == nil {
		return nil, errors.New("i2c: nack")
	}
	return v, nil
}

func (s *scriptedSensor) Features() []string { return []string{"a", "b", "c"} }
func (s *scriptedSensor) Close() error       { s.closed = true; return nil }

// TestPeriphWindows: windows of 2 samples of 3 features, stride 1, into
// mqttModel's int8 input [1,2,3] (scale 0.5, zero point −1:
// q = round(v/0.5) − 1). A failed read restarts the window.
func TestPeriphWindows(t *testing.T) {
	sensor := &scriptedSensor{samples: [][]float64{
		{0.5, 1, -1},   // q 0 1 -3
		{2, 100, -100}, // q 3 127 -128: window 1 = samples 1,2
		{0, 0.25, 3},   // q -1 0 5: window 2 = samples 2,3
		nil,            // read fails: window emptied
		{1, 1, 1},      // q 1 1 1
		{-1, -1, -1},   // q -3 -3 -3: window 3 = samples 5,6
	}}
	inf := &recordingInferer{info: mqttModel}
	p, err := NewPeriph(PeriphOptions{Model: "m", Interval: time.Millisecond, Window: 2, Stride: 1}, sensor, inf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var shapes [][]int
	p.OnResult = func(in, out []infer.Tensor, err error) { shapes = append(shapes, in[0].Shape) }
	for range sensor.samples {
		p.step(context.Background())
	}
	want := [][]byte{
		{0, 1, 0xFD, 3, 0x7F, 0x80},
		{3, 0x7F, 0x80, 0xFF, 0, 5},
		{1, 1, 1, 0xFD, 0xFD, 0xFD},
	}
	got := inf.inputs()
	if len(got) != len(want) {
		t.Fatalf("model ran %d times; want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("window %d = % x; want % x", i, got[i], want[i])
		}
		if !equalInts(shapes[i], []int{1, 2, 3}) {
			t.Errorf("window %d shape %v; want [1 2 3]", i, shapes[i])
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPeriphBME280: the worked example through the recorded bus into a
// float32 model [1, 1, 3]: the model sees float32(25.08),
// float32(1006.5325390625), float32(54.9970703125).
func TestPeriphBME280(t *testing.T) {
	testenv.CheckLeaks(t)
	ops := append(bme280InitOps(0x76), bme280ReadOps(0x76, 0)...)
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := NewBME280(bus, 0x76)
	if err != nil {
		t.Fatal(err)
	}
	d.sleep = noSleep
	inf := &recordingInferer{info: infer.ModelInfo{Name: "env", Inputs: []infer.TensorSpec{{Name: "in", DType: tensor.Float32, Shape: []int{1, 1, 3}}}}}
	p, err := NewPeriph(PeriphOptions{Model: "env", Interval: time.Millisecond, Window: 1}, d, inf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ran := make(chan struct{})
	p.OnResult = func(in, out []infer.Tensor, err error) {
		mu.Lock()
		defer mu.Unlock()
		if ran != nil {
			close(ran)
			ran = nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-ran:
	case <-time.After(30 * time.Second):
		// Generous: one CI run under qemu with every package's tests in
		// parallel missed 5 s once; a fake bus and inferer need
		// milliseconds. Stop Run before failing, so the leak check
		// reports only the failure.
		cancel()
		<-done
		t.Fatal("no inference within 30s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	want := make([]byte, 12)
	for i, v := range []float32{25.08, 1006.5325390625, 54.9970703125} {
		binary.LittleEndian.PutUint32(want[4*i:], math.Float32bits(v))
	}
	if got := inf.inputs(); len(got) < 1 || !bytes.Equal(got[0], want) {
		t.Errorf("model saw % x; want % x", got, want)
	}
}

func TestNewPeriphErrors(t *testing.T) {
	inf := &recordingInferer{info: mqttModel}
	tests := []struct {
		name    string
		opts    PeriphOptions
		wantErr string
	}{
		{name: "ok", opts: PeriphOptions{Model: "m", Interval: time.Second, Window: 2}},
		{name: "interval", opts: PeriphOptions{Model: "m", Window: 2}, wantErr: "interval 0s"},
		{name: "window", opts: PeriphOptions{Model: "m", Interval: time.Second}, wantErr: "window of 0 samples"},
		{name: "stride", opts: PeriphOptions{Model: "m", Interval: time.Second, Window: 2, Stride: 3}, wantErr: "stride 3"},
		{name: "model", opts: PeriphOptions{Model: "x", Interval: time.Second, Window: 2}, wantErr: "model not found"},
		// mqttModel's input holds 6 values; 3 samples of 3 features are 9.
		{name: "shape", opts: PeriphOptions{Model: "m", Interval: time.Second, Window: 3}, wantErr: "holds 6 values; a window of 3 samples of 3 features has 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPeriph(tt.opts, &scriptedSensor{}, inf, slog.New(slog.DiscardHandler))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("NewPeriph error = %v; want %q", err, tt.wantErr)
			}
		})
	}
}
