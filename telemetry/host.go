package telemetry

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Thermal reports the CPU temperature from class/thermal under FS (the
// root of /sys: os.DirFS("/sys")). It prefers a zone whose type names the
// CPU or SoC (cpu-thermal, x86_pkg_temp, soc_thermal, CPU-therm) and
// falls back to the first zone.
type Thermal struct {
	FS fs.FS
}

// Collect implements Collector.
func (t Thermal) Collect(s *Snapshot) error {
	if t.FS == nil {
		return ErrNoData
	}
	zones, err := fs.Glob(t.FS, "class/thermal/thermal_zone*")
	if err != nil || len(zones) == 0 {
		return ErrNoData
	}
	slices.SortFunc(zones, func(a, b string) int { return zoneNumber(a) - zoneNumber(b) })
	best := ""
	for _, z := range zones {
		typ, err := fs.ReadFile(t.FS, path.Join(z, "type"))
		if err != nil {
			continue
		}
		name := strings.ToLower(string(bytes.TrimSpace(typ)))
		if strings.Contains(name, "cpu") || strings.Contains(name, "x86_pkg") || strings.Contains(name, "soc") {
			best = z
			break
		}
	}
	if best == "" {
		best = zones[0]
	}
	b, err := fs.ReadFile(t.FS, path.Join(best, "temp"))
	if err != nil {
		return ErrNoData
	}
	milli, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("telemetry: %s/temp: %q is not millidegrees: %w", best, bytes.TrimSpace(b), err)
	}
	c := math.Round(float64(milli)/100) / 10 // one decimal
	s.CPUTemp = &c
	return nil
}

func zoneNumber(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(path.Base(p), "thermal_zone"))
	return n
}

// Uptime reports the seconds since Started.
type Uptime struct {
	Started time.Time
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Collect implements Collector.
func (u Uptime) Collect(s *Snapshot) error {
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	s.Uptime = int64(now().Sub(u.Started) / time.Second)
	return nil
}
