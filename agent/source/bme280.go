package source

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// BME280 registers and values (Bosch BME280 datasheet, section 5).
const (
	bme280RegCalib0   = 0x88 // dig_T1 .. dig_P9, dig_H1 at 0xA1: 26 bytes
	bme280RegChipID   = 0xD0
	bme280RegCalib26  = 0xE1 // dig_H2 .. dig_H6: 7 bytes
	bme280RegCtrlHum  = 0xF2
	bme280RegStatus   = 0xF3
	bme280RegCtrlMeas = 0xF4
	bme280RegConfig   = 0xF5
	bme280RegData     = 0xF7 // press[3] temp[3] hum[2]

	// BME280ChipID is what register 0xD0 holds on a BME280.
	BME280ChipID = 0x60
	bmp280ChipID = 0x58

	// Oversampling x1 for each quantity, IIR filter off; ctrl_meas with
	// mode 01 starts one forced measurement.
	bme280CtrlHum    = 0x01
	bme280Config     = 0x00
	bme280CtrlForced = 0x01<<5 | 0x01<<2 | 0x01 // 0x25
	bme280Measuring  = 0x08                     // status bit 3
	// t_measure,max for x1/x1/x1 is 1.25 + 2.3 + 2.875 + 2.875 = 9.3 ms
	// (datasheet 9.1).
	bme280MeasureTime = 10 * time.Millisecond
)

// BME280Addr is the sensor's I²C address with SDO to GND; 0x77 with SDO
// to VDDIO.
const BME280Addr = 0x76

// bme280Cal holds the trimming parameters read from the chip.
type bme280Cal struct {
	t1             uint16
	t2, t3         int16
	p1             uint16
	p2, p3, p4, p5 int16
	p6, p7, p8, p9 int16
	h1, h3         uint8
	h2, h4, h5     int16
	h6             int8
}

// BME280 is a Bosch BME280 temperature, pressure and humidity sensor on
// I²C, read in forced mode: each Sample starts one measurement and reads
// it, so the chip sleeps between samples.
type BME280 struct {
	dev   i2c.Dev
	cal   bme280Cal
	close func() error
	// sleep waits d or until ctx ends; tests make it instant.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewBME280 checks the chip ID at addr, reads the calibration and sets
// oversampling x1 with the filter off.
func NewBME280(bus i2c.Bus, addr uint16) (*BME280, error) {
	d := &BME280{dev: i2c.Dev{Bus: bus, Addr: addr}, sleep: sleepCtx}
	id := make([]byte, 1)
	if err := d.dev.Tx([]byte{bme280RegChipID}, id); err != nil {
		return nil, fmt.Errorf("bme280 at %#x on %s: read chip id: %w (is a sensor at this address?)", addr, bus, err)
	}
	switch id[0] {
	case BME280ChipID:
	case bmp280ChipID:
		return nil, fmt.Errorf("bme280 at %#x on %s: chip id %#x is a BMP280, which has no humidity sensor", addr, bus, id[0])
	default:
		return nil, fmt.Errorf("bme280 at %#x on %s: chip id %#x; want %#x", addr, bus, id[0], BME280ChipID)
	}
	c0 := make([]byte, 26)
	c1 := make([]byte, 7)
	if err := d.dev.Tx([]byte{bme280RegCalib0}, c0); err != nil {
		return nil, fmt.Errorf("bme280: read calibration: %w", err)
	}
	if err := d.dev.Tx([]byte{bme280RegCalib26}, c1); err != nil {
		return nil, fmt.Errorf("bme280: read calibration: %w", err)
	}
	d.cal = parseBME280Cal(c0, c1)
	// ctrl_hum takes effect at the next write of ctrl_meas (datasheet 5.4.3).
	for _, w := range [][]byte{{bme280RegCtrlHum, bme280CtrlHum}, {bme280RegConfig, bme280Config}} {
		if err := d.dev.Tx(w, nil); err != nil {
			return nil, fmt.Errorf("bme280: write register %#x: %w", w[0], err)
		}
	}
	return d, nil
}

// parseBME280Cal decodes registers 0x88..0xA1 and 0xE1..0xE7 (datasheet
// table 16); dig_H4 and dig_H5 are 12-bit values sharing 0xE5.
func parseBME280Cal(c0, c1 []byte) bme280Cal {
	le := binary.LittleEndian
	s := func(i int) int16 { return int16(le.Uint16(c0[i:])) }
	return bme280Cal{
		t1: le.Uint16(c0[0:]), t2: s(2), t3: s(4),
		p1: le.Uint16(c0[6:]), p2: s(8), p3: s(10), p4: s(12), p5: s(14), p6: s(16), p7: s(18), p8: s(20), p9: s(22),
		h1: c0[25],
		h2: int16(le.Uint16(c1[0:])), h3: c1[2],
		h4: int16(int8(c1[3]))<<4 | int16(c1[4]&0x0F),
		h5: int16(int8(c1[5]))<<4 | int16(c1[4]>>4),
		h6: int8(c1[6]),
	}
}

// BME280Reading is one compensated measurement.
type BME280Reading struct {
	// Temperature in 0.01 °C, pressure in Pa as Q24.8 (1/256 Pa), relative
	// humidity in %RH as Q22.10 (1/1024 %): the datasheet's integer units.
	CentiCelsius int32
	PressureQ8   uint32
	HumidityQ10  uint32
}

// Features are the sample values in order: °C, hPa, %RH.
func (r BME280Reading) Features() []float64 {
	return []float64{float64(r.CentiCelsius) / 100, float64(r.PressureQ8) / 256 / 100, float64(r.HumidityQ10) / 1024}
}

// Features names the values of a sample.
func (d *BME280) Features() []string {
	return []string{"temperature_c", "pressure_hpa", "humidity_pct"}
}

// Sample measures once: temperature (°C), pressure (hPa), humidity (%RH).
func (d *BME280) Sample(ctx context.Context) ([]float64, error) {
	r, err := d.Read(ctx)
	if err != nil {
		return nil, err
	}
	return r.Features(), nil
}

// Read starts a forced measurement, waits for it and compensates it.
func (d *BME280) Read(ctx context.Context) (BME280Reading, error) {
	if err := d.dev.Tx([]byte{bme280RegCtrlMeas, bme280CtrlForced}, nil); err != nil {
		return BME280Reading{}, fmt.Errorf("bme280: start measurement: %w", err)
	}
	if err := d.sleep(ctx, bme280MeasureTime); err != nil {
		return BME280Reading{}, err
	}
	st := make([]byte, 1)
	for try := 0; ; try++ {
		if err := d.dev.Tx([]byte{bme280RegStatus}, st); err != nil {
			return BME280Reading{}, fmt.Errorf("bme280: read status: %w", err)
		}
		if st[0]&bme280Measuring == 0 {
			break
		}
		if try == 10 {
			return BME280Reading{}, fmt.Errorf("bme280: still measuring after %v", bme280MeasureTime+10*2*time.Millisecond)
		}
		if err := d.sleep(ctx, 2*time.Millisecond); err != nil {
			return BME280Reading{}, err
		}
	}
	b := make([]byte, 8)
	if err := d.dev.Tx([]byte{bme280RegData}, b); err != nil {
		return BME280Reading{}, fmt.Errorf("bme280: read data: %w", err)
	}
	adcP := int32(b[0])<<12 | int32(b[1])<<4 | int32(b[2])>>4
	adcT := int32(b[3])<<12 | int32(b[4])<<4 | int32(b[5])>>4
	adcH := int32(b[6])<<8 | int32(b[7])
	// 0x80000 and 0x8000 are the reset values: a skipped measurement.
	if adcT == 0x80000 || adcP == 0x80000 || adcH == 0x8000 {
		return BME280Reading{}, fmt.Errorf("bme280: measurement skipped (raw % x)", b)
	}
	return d.cal.compensate(adcT, adcP, adcH), nil
}

// compensate applies the datasheet's integer formulas (section 4.2.3 and
// 8.2: BME280_compensate_T_int32, BME280_compensate_P_int64,
// bme280_compensate_H_int32); Go's >> on signed values is arithmetic like
// the reference code's.
func (c *bme280Cal) compensate(adcT, adcP, adcH int32) BME280Reading {
	// Temperature.
	v1 := (((adcT >> 3) - int32(c.t1)<<1) * int32(c.t2)) >> 11
	v2 := (((((adcT >> 4) - int32(c.t1)) * ((adcT >> 4) - int32(c.t1))) >> 12) * int32(c.t3)) >> 14
	tFine := v1 + v2
	r := BME280Reading{CentiCelsius: (tFine*5 + 128) >> 8}

	// Pressure.
	p1 := int64(tFine) - 128000
	p2 := p1 * p1 * int64(c.p6)
	p2 += (p1 * int64(c.p5)) << 17
	p2 += int64(c.p4) << 35
	p1 = ((p1 * p1 * int64(c.p3)) >> 8) + ((p1 * int64(c.p2)) << 12)
	p1 = ((int64(1)<<47 + p1) * int64(c.p1)) >> 33
	if p1 != 0 { // 0 would divide by zero; the datasheet returns 0
		p := 1048576 - int64(adcP)
		p = (((p << 31) - p2) * 3125) / p1
		p1 = (int64(c.p9) * (p >> 13) * (p >> 13)) >> 25
		p2 = (int64(c.p8) * p) >> 19
		r.PressureQ8 = uint32(((p + p1 + p2) >> 8) + int64(c.p7)<<4)
	}

	// Humidity.
	h := tFine - 76800
	h = ((((adcH << 14) - (int32(c.h4) << 20) - (int32(c.h5) * h)) + 16384) >> 15) *
		(((((((h*int32(c.h6))>>10)*(((h*int32(c.h3))>>11)+32768))>>10)+2097152)*int32(c.h2) + 8192) >> 14)
	h -= ((((h >> 15) * (h >> 15)) >> 7) * int32(c.h1)) >> 4
	h = max(0, min(419430400, h))
	r.HumidityQ10 = uint32(h >> 12)
	return r
}

// Close releases the bus when the sensor was opened by OpenBME280.
func (d *BME280) Close() error {
	if d.close == nil {
		return nil
	}
	return d.close()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
