package boards

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// cpuinfo is the part of /proc/cpuinfo the detectors use. Per-core fields
// come from the first processor block: big.LITTLE boards are not among the
// supported ones, and the feature set is the same on every core of those.
type cpuinfo struct {
	processors   int
	vendorID     string // x86 only
	modelName    string // x86 "model name", or 32-bit ARM "ARMv7 Processor rev 4 (v7l)"
	flags        []string
	architecture string // ARM "CPU architecture": "8", "7"
	implementer  string // ARM "CPU implementer": "0x41"
	part         string // ARM "CPU part": "0xd0b"
	hardware     string // Pi kernels: "BCM2835"
	revision     string // Pi kernels: "d04170"
	model        string // newer Pi kernels: "Raspberry Pi 5 Model B Rev 1.0"
}

// readCPUInfo parses proc/cpuinfo. ok reports whether the file exists.
func readCPUInfo(fsys fs.FS) (cpuinfo, bool, error) {
	var ci cpuinfo
	data, ok, err := readOptional(fsys, "proc/cpuinfo")
	if !ok || err != nil {
		return ci, ok, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		first := ci.processors <= 1
		switch k {
		case "processor":
			ci.processors++
		case "vendor_id":
			setFirst(&ci.vendorID, v)
		case "model name":
			setFirst(&ci.modelName, v)
		case "flags", "Features":
			if first && ci.flags == nil {
				ci.flags = strings.Fields(v)
			}
		case "CPU architecture":
			setFirst(&ci.architecture, v)
		case "CPU implementer":
			setFirst(&ci.implementer, v)
		case "CPU part":
			setFirst(&ci.part, v)
		case "Hardware":
			ci.hardware = v
		case "Revision":
			ci.revision = v
		case "Model":
			ci.model = v
		}
	}
	if err := sc.Err(); err != nil {
		return ci, true, fmt.Errorf("read /proc/cpuinfo: %w", err)
	}
	if ci.processors == 0 && ci.flags == nil {
		return ci, true, fmt.Errorf("parse /proc/cpuinfo: want \"processor : N\" entries, found none in %d bytes", len(data))
	}
	return ci, true, nil
}

func setFirst(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// arch is the kernel architecture in GOARCH terms, "" when unknown.
func (ci cpuinfo) arch() string {
	switch {
	case ci.vendorID != "":
		return "amd64"
	case ci.architecture == "8" || ci.architecture == "AArch64":
		return "arm64"
	case ci.architecture == "7" || strings.HasPrefix(ci.architecture, "5") || strings.HasPrefix(ci.architecture, "6"):
		return "arm"
	}
	return ""
}

// featureOrder lists the features reported, in report order, with the
// kernel's flag names that imply each.
var featureOrder = []struct {
	name  string
	flags []string
}{
	{"neon", []string{"asimd", "neon"}}, // arm64 calls NEON "asimd"
	{"asimddp", []string{"asimddp"}},    // SDOT/UDOT: the int8 GEMM fast path
	{"i8mm", []string{"i8mm"}},
	{"sve", []string{"sve"}},
	{"fma", []string{"fma"}},
	{"avx2", []string{"avx2"}},
	{"avx512f", []string{"avx512f"}},
	{"avx512_vnni", []string{"avx512_vnni"}},
	{"avx_vnni", []string{"avx_vnni"}},
}

func (ci cpuinfo) features() []string {
	have := make(map[string]bool, len(ci.flags))
	for _, f := range ci.flags {
		have[f] = true
	}
	var out []string
	for _, f := range featureOrder {
		for _, k := range f.flags {
			if have[k] {
				out = append(out, f.name)
				break
			}
		}
	}
	return out
}

// armCores names ARM cores by implementer and part number (the MIDR fields
// the kernel prints), for the boards edged supports and common servers.
var armCores = map[[2]uint64]string{
	{0x41, 0xc07}: "Cortex-A7",
	{0x41, 0xd03}: "Cortex-A53",
	{0x41, 0xd04}: "Cortex-A35",
	{0x41, 0xd05}: "Cortex-A55",
	{0x41, 0xd07}: "Cortex-A57",
	{0x41, 0xd08}: "Cortex-A72",
	{0x41, 0xd09}: "Cortex-A73",
	{0x41, 0xd0b}: "Cortex-A76",
	{0x41, 0xd0c}: "Neoverse-N1",
	{0x41, 0xd40}: "Neoverse-V1",
	{0x41, 0xd41}: "Cortex-A78",
	{0x41, 0xd42}: "Cortex-A78AE",
	{0x41, 0xd49}: "Neoverse-N2",
	{0x41, 0xd4f}: "Neoverse-V2",
	{0x4e, 0x004}: "Carmel",
}

func (ci cpuinfo) coreName() string {
	if ci.implementer != "" && ci.part != "" {
		impl, err1 := strconv.ParseUint(ci.implementer, 0, 32)
		part, err2 := strconv.ParseUint(ci.part, 0, 32)
		if err1 == nil && err2 == nil {
			if n, ok := armCores[[2]uint64{impl, part}]; ok {
				return n
			}
			return fmt.Sprintf("arm %#x/%#x", impl, part)
		}
	}
	return ci.modelName
}

// onlineCores counts the CPUs in sys/devices/system/cpu/online ("0-3,6").
func onlineCores(fsys fs.FS) (int, bool, error) {
	data, ok, err := readAttr(fsys, "sys/devices/system/cpu/online")
	if !ok || err != nil {
		return 0, ok, err
	}
	n, err := parseCPUList(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, true, fmt.Errorf("parse /sys/devices/system/cpu/online %q: %w", truncate(data), err)
	}
	return n, true, nil
}

// parseCPUList counts the CPUs in a kernel cpu list such as "0-3,5,7-8".
func parseCPUList(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("want a cpu list like 0-3, found an empty file")
	}
	n := 0
	for _, r := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0, fmt.Errorf("want a cpu number, found %q", lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("want a range end >= %d, found %q", a, hi)
			}
		}
		if b-a >= 1<<16 {
			return 0, fmt.Errorf("range %d-%d is implausibly large", a, b)
		}
		n += b - a + 1
	}
	return n, nil
}
