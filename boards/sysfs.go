package boards

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// maxFile bounds every read: the files read here are a few KiB, and a
// corrupt or hostile root must not make detection allocate without limit.
// maxAttr bounds a one-value sysfs attribute (an id, a temperature).
const (
	maxFile = 1 << 20
	maxAttr = 4 << 10
)

// readOptional reads name from fsys. ok is false, with a nil error, when the
// file does not exist: absence is normal (no device tree on x86, no
// nv_tegra_release off Jetson) and is not an error.
func readOptional(fsys fs.FS, name string) (data []byte, ok bool, err error) {
	return readLimited(fsys, name, maxFile)
}

// readAttr is readOptional for a one-value sysfs attribute.
func readAttr(fsys fs.FS, name string) (data []byte, ok bool, err error) {
	return readLimited(fsys, name, maxAttr)
}

func readLimited(fsys fs.FS, name string, limit int64) (data []byte, ok bool, err error) {
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, true, fmt.Errorf("open /%s: %w", name, err)
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, true, fmt.Errorf("read /%s: %w", name, err)
	}
	return data, true, nil
}

// readDT reads a device-tree property from /proc/device-tree, or from
// /sys/firmware/devicetree/base where /proc/device-tree (a symlink to it) is
// not mounted.
func readDT(fsys fs.FS, prop string) ([]byte, bool, error) {
	data, ok, err := readOptional(fsys, "proc/device-tree/"+prop)
	if ok {
		return data, ok, err
	}
	return readOptional(fsys, "sys/firmware/devicetree/base/"+prop)
}

// readDTString reads a string property; device-tree strings end in NUL.
func readDTString(fsys fs.FS, prop string) (string, bool, error) {
	list, ok, err := readDTStrings(fsys, prop)
	if len(list) == 0 {
		return "", ok, err
	}
	return list[0], ok, err
}

// readDTStrings reads a string-list property: NUL-terminated strings back to
// back ("nvidia,p3767-0005\x00nvidia,tegra234\x00").
func readDTStrings(fsys fs.FS, prop string) ([]string, bool, error) {
	data, ok, err := readDT(fsys, prop)
	if !ok || err != nil {
		return nil, ok, err
	}
	var out []string
	for _, s := range strings.Split(string(data), "\x00") {
		if s = strings.TrimSpace(s); s != "" {
			if !printable(s) {
				return out, true, fmt.Errorf("parse device-tree %s: want printable strings, found %q", prop, truncate([]byte(s)))
			}
			out = append(out, s)
		}
	}
	return out, true, nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// truncate shortens a file's content for an error message.
func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// memTotal reads MemTotal from proc/meminfo, in bytes.
func memTotal(fsys fs.FS) (uint64, bool, error) {
	data, ok, err := readOptional(fsys, "proc/meminfo")
	if !ok || err != nil {
		return 0, ok, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		v, found := strings.CutPrefix(line, "MemTotal:")
		if !found {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil && kb < 1<<44 {
				return kb * 1024, true, nil
			}
		}
		return 0, true, fmt.Errorf("parse /proc/meminfo: want \"MemTotal: N kB\", found %q", truncate([]byte(line)))
	}
	return 0, true, fmt.Errorf("parse /proc/meminfo: no MemTotal line in %d bytes", len(data))
}

// ThermalZones reads every class/thermal/thermal_zoneN under sys (the
// sysfs root, /sys on a device), ordered by N: the one thermal reader of
// edged (board detection and the telemetry collectors). A zone whose temp
// cannot be read is left out without an error: some drivers refuse reads
// while their sensor is powered down. Without any zone (a container) it
// returns ErrNoData.
func ThermalZones(sys fs.FS) ([]ThermalZone, error) {
	zones, ok, err := thermalZones(sys, "class/thermal")
	if !ok || (len(zones) == 0 && err == nil) {
		return nil, ErrNoData
	}
	return zones, err
}

// thermalZones reads the thermal zones of dir in fsys.
func thermalZones(fsys fs.FS, dir string) ([]ThermalZone, bool, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, true, fmt.Errorf("list /%s: %w", dir, err)
	}
	type zone struct {
		n int
		z ThermalZone
	}
	var zones []zone
	var errs []error
	for _, e := range entries {
		num, found := strings.CutPrefix(e.Name(), "thermal_zone")
		if !found {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		typ, _, _ := readAttr(fsys, path.Join(dir, e.Name(), "type"))
		raw, ok, err := readAttr(fsys, path.Join(dir, e.Name(), "temp"))
		if !ok || err != nil {
			continue
		}
		milli, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("parse %s/temp: want millidegrees Celsius, found %q", e.Name(), truncate(raw)))
			continue
		}
		zones = append(zones, zone{n, ThermalZone{
			Zone:  e.Name(),
			Type:  strings.TrimSpace(string(typ)),
			TempC: float64(milli) / 1000,
		}})
	}
	sort.Slice(zones, func(i, j int) bool { return zones[i].n < zones[j].n })
	out := make([]ThermalZone, 0, len(zones))
	for _, z := range zones {
		out = append(out, z.z)
	}
	if len(out) == 0 {
		out = nil
	}
	return out, true, errors.Join(errs...)
}

// Coral USB Accelerator ids: it enumerates with the bootloader's ids until
// libedgetpu uploads the firmware, then re-enumerates as Google's.
const (
	coralBootVendor, coralBootProduct = "1a6e", "089a" // Global Unichip Corp.
	coralVendor, coralProduct         = "18d1", "9302" // Google Inc.
)

// edgeTPUs lists Coral USB Accelerators (sys/bus/usb/devices/*/idVendor,
// idProduct) and PCIe / M.2 Edge TPUs (dev/apex_N, sys/class/apex/apex_N).
func edgeTPUs(fsys fs.FS) ([]Accelerator, bool, error) {
	var (
		out  []Accelerator
		errs []error
		seen bool
	)
	const usbDir = "sys/bus/usb/devices"
	entries, err := fs.ReadDir(fsys, usbDir)
	switch {
	case err == nil:
		seen = true
	case !errors.Is(err, fs.ErrNotExist):
		seen = true
		errs = append(errs, fmt.Errorf("list /%s: %w", usbDir, err))
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ":") {
			continue // an interface ("2-1:1.0"), not a device
		}
		v, _, _ := readAttr(fsys, path.Join(usbDir, e.Name(), "idVendor"))
		p, _, _ := readAttr(fsys, path.Join(usbDir, e.Name(), "idProduct"))
		id := strings.ToLower(strings.TrimSpace(string(v))) + ":" + strings.ToLower(strings.TrimSpace(string(p)))
		switch id {
		case coralBootVendor + ":" + coralBootProduct:
			out = append(out, Accelerator{Kind: KindEdgeTPUUSB, Path: "usb:" + e.Name(), State: "bootloader"})
		case coralVendor + ":" + coralProduct:
			out = append(out, Accelerator{Kind: KindEdgeTPUUSB, Path: "usb:" + e.Name(), State: "ready"})
		}
	}

	// The apex driver registers class devices; udev makes the /dev nodes.
	// A class device without its node is listed so the operator sees why
	// the Edge TPU is not used (usually a missing udev rule or group).
	nodes := map[string]bool{}
	if devs, err := fs.ReadDir(fsys, "dev"); err == nil {
		seen = true
		for _, e := range devs {
			if strings.HasPrefix(e.Name(), "apex_") {
				nodes[e.Name()] = true
			}
		}
	}
	class := map[string]bool{}
	if cl, err := fs.ReadDir(fsys, "sys/class/apex"); err == nil {
		for _, e := range cl {
			class[e.Name()] = true
		}
	}
	names := make([]string, 0, len(nodes)+len(class))
	for n := range nodes {
		names = append(names, n)
	}
	for n := range class {
		if !nodes[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if nodes[n] {
			out = append(out, Accelerator{Kind: KindEdgeTPUPCIe, Path: "/dev/" + n, State: "ready"})
		} else {
			out = append(out, Accelerator{Kind: KindEdgeTPUPCIe, Path: "/sys/class/apex/" + n, State: StateNoDevNode})
		}
	}
	return out, seen, errors.Join(errs...)
}

// StateNoDevNode marks an accelerator whose driver is loaded but whose /dev
// node is missing, so it cannot be opened.
const StateNoDevNode = "no-dev-node"

// exists reports whether name exists in fsys.
func exists(fsys fs.FS, name string) bool {
	_, err := fs.Stat(fsys, name)
	return err == nil
}
