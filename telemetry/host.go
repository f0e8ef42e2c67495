package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edged-dev/edged/boards"
	"github.com/edged-dev/edged/fleet"
)

// Thermal reports every thermal zone and the CPU temperature from
// class/thermal under FS (the root of /sys: os.DirFS("/sys")), read by
// boards.ThermalZones. The CPU temperature is that of the first zone whose
// type names the CPU or SoC (cpu-thermal, x86_pkg_temp, soc_thermal,
// CPU-therm), else of the first zone.
type Thermal struct {
	FS fs.FS
}

// Collect implements Collector.
func (t Thermal) Collect(s *Snapshot) error {
	if t.FS == nil {
		return ErrNoData
	}
	zones, err := boards.ThermalZones(t.FS)
	if len(zones) == 0 {
		if err == nil || errors.Is(err, boards.ErrNoData) {
			return ErrNoData
		}
		return fmt.Errorf("telemetry: thermal zones: %w", err)
	}
	best := zones[0]
	for _, z := range zones {
		name := strings.ToLower(z.Type)
		if strings.Contains(name, "cpu") || strings.Contains(name, "x86_pkg") || strings.Contains(name, "soc") {
			best = z
			break
		}
	}
	c := tenths(best.TempC)
	s.CPUTemp = &c
	if len(zones) == 1 {
		return nil
	}
	sys := system(s)
	sys.Zones = make(map[string]float64, len(zones))
	for _, z := range zones {
		key := z.Type
		if _, dup := sys.Zones[key]; dup || key == "" {
			key = z.Zone
		}
		sys.Zones[key] = tenths(z.TempC)
	}
	return nil
}

// tenths rounds degrees to one decimal from the millidegrees they came
// from (61.05 °C is 61050 m°C, which rounds up).
func tenths(c float64) float64 {
	milli := math.Round(c * 1000)
	return math.Round(milli/100) / 10
}

// system is s.System, allocated on first use.
func system(s *Snapshot) *fleet.SystemTelemetry {
	if s.System == nil {
		s.System = &fleet.SystemTelemetry{}
	}
	return s.System
}

// Throttle reports the Raspberry Pi firmware's throttling flags under FS
// (the root of /sys); ErrNoData on other boards.
type Throttle struct {
	FS fs.FS
}

// Collect implements Collector.
func (t Throttle) Collect(s *Snapshot) error {
	if t.FS == nil {
		return ErrNoData
	}
	th, err := boards.ReadThrottle(t.FS)
	if errors.Is(err, boards.ErrNoData) {
		return ErrNoData
	}
	if err != nil {
		return fmt.Errorf("telemetry: throttling flags: %w", err)
	}
	raw := th.Raw
	system(s).ThrottleFlags = &raw
	s.Throttle = th.UnderVoltage || th.FreqCapped || th.Throttled || th.SoftTempLimit
	return nil
}

// Uptime reports the seconds since Started.
type Uptime struct {
	Started time.Time
	// Now is the clock (time.Now when nil).
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

// Load reports the one-minute load average from loadavg under FS (the
// root of /proc: os.DirFS("/proc")).
type Load struct {
	FS fs.FS
}

// Collect implements Collector.
func (l Load) Collect(s *Snapshot) error {
	b, err := readProc(l.FS, "loadavg")
	if err != nil {
		return err
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return fmt.Errorf("telemetry: /proc/loadavg: empty")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || v < 0 || math.IsInf(v, 0) {
		return fmt.Errorf("telemetry: /proc/loadavg: %q is not a load average", f[0])
	}
	system(s).Load1 = v
	return nil
}

// Memory reports the memory in use (MemTotal − MemAvailable) and the
// total, in MiB, from meminfo under FS (the root of /proc).
type Memory struct {
	FS fs.FS
}

// Collect implements Collector.
func (m Memory) Collect(s *Snapshot) error {
	b, err := readProc(m.FS, "meminfo")
	if err != nil {
		return err
	}
	var total, avail uint64
	var haveTotal, haveAvail bool
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "MemTotal" && name != "MemAvailable") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return fmt.Errorf("telemetry: /proc/meminfo: %s: want \"N kB\", found %q", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || kb >= 1<<44 {
			return fmt.Errorf("telemetry: /proc/meminfo: %s: %q is not a size in kB", name, f[0])
		}
		if name == "MemTotal" {
			total, haveTotal = kb*1024, true
		} else {
			avail, haveAvail = kb*1024, true
		}
	}
	if !haveTotal || !haveAvail || avail > total {
		return fmt.Errorf("telemetry: /proc/meminfo: want MemTotal and MemAvailable ≤ MemTotal")
	}
	sys := system(s)
	sys.MemTotal, sys.MemUsed = total>>20, (total-avail)>>20
	return nil
}

// CPU reports the share of all cores' time spent busy (neither idle nor
// waiting for I/O) between two readings of stat under FS (the root of
// /proc). The first reading has nothing to compare with and gives
// ErrNoData; readings closer than a second to the previous one repeat its
// figure, so a scrape between two snapshots does not shorten their
// interval to nothing.
type CPU struct {
	FS fs.FS
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu         sync.Mutex
	busy, all  uint64
	at         time.Time
	last       float64
	haveFigure bool
}

// Collect implements Collector.
func (c *CPU) Collect(s *Snapshot) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	if c.haveFigure && now.Sub(c.at) < time.Second {
		system(s).CPU = c.last
		return nil
	}
	b, err := readProc(c.FS, "stat")
	if err != nil {
		return err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return fmt.Errorf("telemetry: /proc/stat: want a first line \"cpu user nice system idle …\", found %.40q", line)
	}
	var busy, all uint64
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("telemetry: /proc/stat: %q is not a tick count", v)
		}
		if i >= 8 {
			break // guest time is counted in user time already
		}
		all += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	prevBusy, prevAll, had := c.busy, c.all, !c.at.IsZero()
	c.busy, c.all, c.at = busy, all, now
	if !had || all <= prevAll || busy < prevBusy {
		return ErrNoData
	}
	c.last = math.Round(1e3*float64(busy-prevBusy)/float64(all-prevAll)) / 1e3
	c.haveFigure = true
	system(s).CPU = c.last
	return nil
}

// maxProcFile bounds what is read of one /proc file.
const maxProcFile = 64 << 10

// readProc reads name under fsys (a /proc root), ErrNoData when absent.
func readProc(fsys fs.FS, name string) ([]byte, error) {
	if fsys == nil {
		return nil, ErrNoData
	}
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoData
		}
		return nil, fmt.Errorf("telemetry: /proc/%s: %w", name, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxProcFile)); err != nil {
		return nil, fmt.Errorf("telemetry: /proc/%s: %w", name, err)
	}
	return buf.Bytes(), nil
}
