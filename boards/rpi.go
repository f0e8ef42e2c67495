package boards

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Throttle is the Raspberry Pi firmware's get_throttled word: what is
// limiting the CPU now, and what has since boot. Under-voltage is the usual
// cause of a Pi that is slow or resets under load.
type Throttle struct {
	Raw                   uint32 `json:"raw"`
	UnderVoltage          bool   `json:"under_voltage"`
	FreqCapped            bool   `json:"freq_capped"`
	Throttled             bool   `json:"throttled"`
	SoftTempLimit         bool   `json:"soft_temp_limit"`
	UnderVoltageOccurred  bool   `json:"under_voltage_occurred"`
	FreqCappedOccurred    bool   `json:"freq_capped_occurred"`
	ThrottledOccurred     bool   `json:"throttled_occurred"`
	SoftTempLimitOccurred bool   `json:"soft_temp_limit_occurred"`
}

// DecodeThrottle splits the word: bits 0-3 are the current state, bits
// 16-19 the same conditions latched since boot (Raspberry Pi documentation,
// "vcgencmd get_throttled").
func DecodeThrottle(raw uint32) Throttle {
	bit := func(n uint) bool { return raw&(1<<n) != 0 }
	return Throttle{
		Raw:                   raw,
		UnderVoltage:          bit(0),
		FreqCapped:            bit(1),
		Throttled:             bit(2),
		SoftTempLimit:         bit(3),
		UnderVoltageOccurred:  bit(16),
		FreqCappedOccurred:    bit(17),
		ThrottledOccurred:     bit(18),
		SoftTempLimitOccurred: bit(19),
	}
}

// rpiTypes maps the new-style revision code's type field (bits 4-11) to the
// model; the names follow the Raspberry Pi revision-codes table.
var rpiTypes = map[uint64]string{
	0x04: "2B", 0x08: "3B", 0x09: "Zero", 0x0a: "CM3", 0x0c: "Zero W",
	0x0d: "3B+", 0x0e: "3A+", 0x10: "CM3+", 0x11: "4B", 0x12: "Zero 2 W",
	0x13: "400", 0x14: "CM4", 0x15: "CM4S", 0x17: "5", 0x18: "CM5", 0x19: "500",
}

// rpiName turns a revision-table model into a Board.Name: "3B+" ->
// "rpi-3b-plus", "Zero 2 W" -> "rpi-zero-2-w".
func rpiName(model string) string {
	s := strings.ToLower(model)
	s = strings.ReplaceAll(s, "+", "-plus")
	s = strings.ReplaceAll(s, " ", "-")
	return "rpi-" + s
}

// rpiNameFromRevision decodes a /proc/cpuinfo Revision. New-style codes
// (bit 23 set) carry the type; old-style codes (0002-0015, possibly with the
// over-voltage prefix 1000) are all first-generation boards.
func rpiNameFromRevision(rev string) (string, error) {
	code, err := strconv.ParseUint(rev, 16, 32)
	if err != nil {
		return "", fmt.Errorf("parse /proc/cpuinfo Revision %q: want a hex revision code", truncate([]byte(rev)))
	}
	if code&(1<<23) == 0 {
		if c := code & 0xffffff; c >= 0x2 && c <= 0x15 {
			return "rpi-1", nil
		}
		return "", fmt.Errorf("decode /proc/cpuinfo Revision %s: not a known old-style code and new-style flag (bit 23) unset", rev)
	}
	typ := (code >> 4) & 0xff
	m, ok := rpiTypes[typ]
	if !ok {
		return "", fmt.Errorf("decode /proc/cpuinfo Revision %s: unknown board type %#x", rev, typ)
	}
	return rpiName(m), nil
}

// rpiNameFromModel is the fallback when the revision is missing or unknown:
// "Raspberry Pi 5 Model B Rev 1.0" -> "rpi-5-model-b".
func rpiNameFromModel(model string) string {
	s := strings.TrimPrefix(model, "Raspberry Pi")
	if i := strings.Index(s, " Rev "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "rpi"
	}
	return rpiName(s)
}

func detectRPi(fsys fs.FS, h *hostInfo, b *Board) (bool, error) {
	isPi := strings.HasPrefix(h.model, "Raspberry Pi") || strings.HasPrefix(h.cpuinfo.model, "Raspberry Pi")
	for _, c := range h.compatible {
		isPi = isPi || strings.HasPrefix(c, "raspberrypi,")
	}
	if !isPi {
		return false, nil
	}
	if b.Model == "" {
		b.Model = h.cpuinfo.model
	}
	b.Revision = h.cpuinfo.revision

	var errs []error
	b.Name = ""
	if b.Revision != "" {
		name, err := rpiNameFromRevision(b.Revision)
		if err != nil {
			errs = append(errs, err)
		}
		b.Name = name
	}
	if b.Name == "" {
		b.Name = rpiNameFromModel(b.Model)
	}

	t, ok, err := readThrottle(fsys, "sys/")
	if err != nil {
		errs = append(errs, err)
	}
	if ok && err == nil {
		b.Throttle = &t
	}
	return true, errors.Join(errs...)
}

// throttleGlobs find the firmware driver's get_throttled attribute: through
// the driver's bound devices (wherever the device tree puts the node), then
// under soc (Pi 4 and earlier) or soc@107c000000 (Pi 5).
var throttleGlobs = []string{
	"bus/platform/drivers/raspberrypi-firmware/*/get_throttled",
	"devices/platform/soc*/soc*:firmware/get_throttled",
}

// ReadThrottle reads the Raspberry Pi firmware's throttling flags under
// sys (the sysfs root, /sys on a device); ErrNoData on other boards.
func ReadThrottle(sys fs.FS) (Throttle, error) {
	t, ok, err := readThrottle(sys, "")
	if !ok {
		return Throttle{}, ErrNoData
	}
	return t, err
}

// readThrottle looks for the attribute under prefix in fsys.
func readThrottle(fsys fs.FS, prefix string) (Throttle, bool, error) {
	var matches []string
	for _, g := range throttleGlobs {
		if matches, _ = fs.Glob(fsys, prefix+g); len(matches) > 0 {
			break
		}
	}
	if len(matches) == 0 {
		return Throttle{}, false, nil
	}
	data, ok, err := readAttr(fsys, matches[0])
	if !ok || err != nil {
		return Throttle{}, ok, err
	}
	s := strings.TrimPrefix(strings.TrimSpace(string(data)), "0x")
	raw, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return Throttle{}, true, fmt.Errorf("parse /%s: want a hex word, found %q", matches[0], truncate(data))
	}
	return DecodeThrottle(uint32(raw)), true, nil
}

// String lists the active and latched conditions: "0x50005: under-voltage,
// throttled; since boot: under-voltage, throttled", or "0x0: ok".
func (t Throttle) String() string {
	list := func(uv, capped, thr, soft bool) string {
		var s []string
		for _, c := range []struct {
			on   bool
			name string
		}{{uv, "under-voltage"}, {capped, "frequency capped"}, {thr, "throttled"}, {soft, "soft temperature limit"}} {
			if c.on {
				s = append(s, c.name)
			}
		}
		return strings.Join(s, ", ")
	}
	now := list(t.UnderVoltage, t.FreqCapped, t.Throttled, t.SoftTempLimit)
	since := list(t.UnderVoltageOccurred, t.FreqCappedOccurred, t.ThrottledOccurred, t.SoftTempLimitOccurred)
	switch {
	case now == "" && since == "":
		return fmt.Sprintf("%#x: ok", t.Raw)
	case since == "":
		return fmt.Sprintf("%#x: %s", t.Raw, now)
	case now == "":
		return fmt.Sprintf("%#x: since boot: %s", t.Raw, since)
	}
	return fmt.Sprintf("%#x: %s; since boot: %s", t.Raw, now, since)
}
