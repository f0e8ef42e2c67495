// Package boards identifies the machine edged runs on: the board (Raspberry
// Pi, Jetson, Coral Dev Board or a generic Linux host), its CPU cores and
// SIMD features, memory, thermal zones, Pi throttling flags and attached
// accelerators (Coral USB / PCIe Edge TPUs, the Jetson GPU).
//
// Everything is read from a root filesystem passed in as an fs.FS, the way
// node_exporter takes its procfs and sysfs roots as options: production
// passes os.DirFS("/"), tests pass captured trees under testdata/. Each
// family detector is three-state in the periph manner: it claims the board,
// skips it (not this family), or fails with a reason; a failure leaves a
// partial Board and never stops detection.
package boards

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ErrNoData is returned (wrapped) by Detect when the root holds none of the
// files it reads, e.g. an empty container root or a non-Linux host. The Board
// returned with it is named "unknown".
var ErrNoData = errors.New("boards: no board data on this host")

// Families of boards.
const (
	FamilyRaspberryPi = "raspberrypi"
	FamilyJetson      = "jetson"
	FamilyCoral       = "coral"
	FamilyGeneric     = "generic"
)

// Accelerator kinds.
const (
	KindEdgeTPUUSB  = "edgetpu-usb"
	KindEdgeTPUPCIe = "edgetpu-pcie"
	KindJetsonGPU   = "jetson-gpu"
)

// Board is what Detect learned about the host. Zero fields mean "not found".
type Board struct {
	// Name is a stable identifier: "rpi-5", "rpi-4b", "rpi-3b-plus",
	// "rpi-zero-2-w", "jetson-orin-nano", "jetson-xavier-nx",
	// "coral-dev-board", "coral-dev-board-mini", "generic-x86-64",
	// "generic-arm64", "generic-arm" or "unknown".
	Name   string `json:"name"`
	Family string `json:"family"`
	// Model is the device-tree model string (or cpuinfo "Model", or the x86
	// "model name" when there is no device tree).
	Model      string   `json:"model,omitempty"`
	Compatible []string `json:"compatible,omitempty"`
	// Revision is the Raspberry Pi revision code from /proc/cpuinfo, hex.
	Revision string `json:"revision,omitempty"`
	// L4T is the Jetson Linux version from /etc/nv_tegra_release, "35.4.1".
	L4T string `json:"l4t,omitempty"`
	// Arch is the kernel's architecture in GOARCH terms: amd64, arm64, arm.
	Arch         string        `json:"arch,omitempty"`
	CPU          CPU           `json:"cpu"`
	MemoryBytes  uint64        `json:"memory_bytes,omitempty"`
	Thermal      []ThermalZone `json:"thermal,omitempty"`
	Throttle     *Throttle     `json:"throttle,omitempty"`
	Accelerators []Accelerator `json:"accelerators,omitempty"`
}

// CPU describes the online cores and the SIMD features the kernels care about.
type CPU struct {
	Cores int `json:"cores"`
	// Name is the core type ("Cortex-A76") or the x86 model name.
	Name string `json:"name,omitempty"`
	// Features is a subset of: neon, asimddp, i8mm, sve, fma, avx2, avx512f,
	// avx512_vnni, avx_vnni — in that order.
	Features []string `json:"features,omitempty"`
}

// Has reports whether the CPU has feature f (a name from CPU.Features).
func (c CPU) Has(f string) bool {
	for _, g := range c.Features {
		if g == f {
			return true
		}
	}
	return false
}

// ThermalZone is one /sys/class/thermal/thermal_zoneN.
type ThermalZone struct {
	Zone  string  `json:"zone"` // "thermal_zone0"
	Type  string  `json:"type"` // "cpu-thermal"
	TempC float64 `json:"temp_c"`
}

// Accelerator is an inference device found on the host.
type Accelerator struct {
	Kind string `json:"kind"`
	// Path is where it was found: "/dev/apex_0", "usb:2-1", "/dev/nvhost-gpu".
	Path string `json:"path"`
	// State is "ready", or for a Coral USB Accelerator still showing its
	// bootloader ids (1a6e:089a) "bootloader": libedgetpu loads the firmware
	// on first use, after which it re-enumerates as 18d1:9302.
	State string `json:"state"`
}

// detector is one board family's three-state probe: (true, nil) claims the
// board and fills b; (false, nil) means not this family; an error says what
// was wrong, and b may still be partly filled.
type detector struct {
	family string
	detect func(fsys fs.FS, h *hostInfo, b *Board) (bool, error)
}

// detectors run in order; the first to claim the board wins. Generic is the
// fallback and is not in the list.
var detectors = []detector{
	{FamilyRaspberryPi, detectRPi},
	{FamilyJetson, detectJetson},
	{FamilyCoral, detectCoral},
}

// hostInfo is what the family detectors share, read once.
type hostInfo struct {
	model      string   // device-tree model, NUL-trimmed
	compatible []string // device-tree compatible list
	cpuinfo    cpuinfo
}

// Detect reads the root filesystem fsys (os.DirFS("/") in production) and
// describes the board. It never panics on missing or malformed files: the
// Board holds whatever could be read, and the error (errors.Join of every
// failure, each naming its file) says what could not. When nothing at all
// could be read the error wraps ErrNoData.
func Detect(fsys fs.FS) (Board, error) {
	var (
		b    Board
		errs []error
		h    hostInfo
		seen bool // any source present
	)
	note := func(ok bool, err error) {
		seen = seen || ok
		if err != nil {
			errs = append(errs, err)
		}
	}

	model, ok, err := readDTString(fsys, "model")
	note(ok, err)
	h.model = model
	compat, ok, err := readDTStrings(fsys, "compatible")
	note(ok, err)
	h.compatible = compat
	b.Model, b.Compatible = h.model, h.compatible

	ci, ok, err := readCPUInfo(fsys)
	note(ok, err)
	h.cpuinfo = ci
	b.Arch = ci.arch()
	b.CPU.Name = ci.coreName()
	b.CPU.Features = ci.features()

	cores, ok, err := onlineCores(fsys)
	note(ok, err)
	if !ok || err != nil {
		cores = ci.processors
	}
	b.CPU.Cores = cores

	mem, ok, err := memTotal(fsys)
	note(ok, err)
	b.MemoryBytes = mem

	zones, ok, err := thermalZones(fsys, "sys/class/thermal")
	note(ok, err)
	b.Thermal = zones

	accels, ok, err := edgeTPUs(fsys)
	note(ok, err)
	b.Accelerators = accels

	claimed := false
	for _, d := range detectors {
		got, err := d.detect(fsys, &h, &b)
		if err != nil {
			errs = append(errs, fmt.Errorf("boards: %s detector: %w", d.family, err))
		}
		if got {
			b.Family = d.family
			claimed = true
			break
		}
	}
	if !claimed {
		b.Family = FamilyGeneric
		b.Name = genericName(b.Arch)
		if b.Model == "" {
			b.Model = ci.modelName
		}
	}
	if !seen {
		b.Name, b.Family = "unknown", ""
		return b, fmt.Errorf("boards: read device tree, /proc/cpuinfo, /proc/meminfo, /sys: %w", ErrNoData)
	}
	return b, errors.Join(errs...)
}

func genericName(arch string) string {
	switch arch {
	case "amd64":
		return "generic-x86-64"
	case "arm64":
		return "generic-arm64"
	case "arm":
		return "generic-arm"
	}
	return "unknown"
}

// HasAccelerator reports whether a usable accelerator of the given kind was
// found (one whose driver is loaded but has no /dev node does not count).
func (b Board) HasAccelerator(kind string) bool {
	for _, a := range b.Accelerators {
		if a.Kind == kind && a.State != StateNoDevNode {
			return true
		}
	}
	return false
}

// DefaultThreads is the interpreter thread count for this board: every core
// up to four (a Pi's four cores are all worth using), but one core is left to
// the agent, MQTT and the OS on two-core hosts and on bigger ones, and more
// than eight threads gain little on these models.
func (b Board) DefaultThreads() int {
	n := b.CPU.Cores
	switch {
	case n <= 2:
		return 1
	case n <= 4:
		return n
	default:
		return min(n-1, 8)
	}
}

// PreferredDelegates is the delegate chain in order of preference: "edgetpu"
// when a Coral is attached, "gpu" on a Jetson, and always "cpu" last.
func (b Board) PreferredDelegates() []string {
	var d []string
	if b.HasAccelerator(KindEdgeTPUUSB) || b.HasAccelerator(KindEdgeTPUPCIe) {
		d = append(d, "edgetpu")
	}
	if b.HasAccelerator(KindJetsonGPU) {
		d = append(d, "gpu")
	}
	return append(d, "cpu")
}

// Summary is one line for logs and status pages, e.g.
// "rpi-5: Raspberry Pi 5 Model B Rev 1.0, 4x Cortex-A76 (neon asimddp), 7.9 GiB, edgetpu-usb".
func (b Board) Summary() string {
	var sb strings.Builder
	sb.WriteString(b.Name)
	if b.Model != "" {
		sb.WriteString(": ")
		sb.WriteString(b.Model)
	}
	if b.L4T != "" {
		sb.WriteString(", L4T ")
		sb.WriteString(b.L4T)
	}
	if b.CPU.Cores > 0 {
		fmt.Fprintf(&sb, ", %dx", b.CPU.Cores)
		if b.CPU.Name != "" {
			sb.WriteString(" ")
			sb.WriteString(b.CPU.Name)
		} else {
			sb.WriteString(" cpu")
		}
		if len(b.CPU.Features) > 0 {
			fmt.Fprintf(&sb, " (%s)", strings.Join(b.CPU.Features, " "))
		}
	}
	if b.MemoryBytes > 0 {
		fmt.Fprintf(&sb, ", %.1f GiB", float64(b.MemoryBytes)/(1<<30))
	}
	for _, a := range b.Accelerators {
		sb.WriteString(", ")
		sb.WriteString(a.Kind)
		if a.State != "" && a.State != "ready" {
			fmt.Fprintf(&sb, " (%s)", a.State)
		}
	}
	if b.Throttle != nil && b.Throttle.Raw != 0 {
		fmt.Fprintf(&sb, ", throttled=%#x", b.Throttle.Raw)
	}
	return sb.String()
}
