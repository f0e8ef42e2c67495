package boards

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// jetsonModules maps a module's device-tree compatible (its P-number and
// SKU, as NVIDIA's Jetson Linux guides list them) to a Board.Name. The
// first matching prefix wins, so SKU-specific entries come first.
var jetsonModules = []struct{ prefix, name string }{
	{"nvidia,p3767-0000", "jetson-orin-nx"}, // 16 GB
	{"nvidia,p3767-0001", "jetson-orin-nx"}, // 8 GB
	{"nvidia,p3767-0003", "jetson-orin-nano"},
	{"nvidia,p3767-0004", "jetson-orin-nano"},
	{"nvidia,p3767-0005", "jetson-orin-nano"}, // developer kit module
	{"nvidia,p3701", "jetson-agx-orin"},
	{"nvidia,p3668", "jetson-xavier-nx"},
	{"nvidia,p2888", "jetson-agx-xavier"},
	{"nvidia,p2972", "jetson-agx-xavier"}, // developer kit carrier
	{"nvidia,p3448", "jetson-nano"},
	{"nvidia,p3450", "jetson-nano"}, // developer kit carrier
	{"nvidia,jetson-nano", "jetson-nano"},
}

// jetsonModels is the fallback on the device-tree model string.
var jetsonModels = []struct{ substr, name string }{
	{"Orin Nano", "jetson-orin-nano"},
	{"Orin NX", "jetson-orin-nx"},
	{"AGX Orin", "jetson-agx-orin"},
	{"Xavier NX", "jetson-xavier-nx"},
	{"AGX Xavier", "jetson-agx-xavier"},
	{"Jetson Nano", "jetson-nano"},
}

func jetsonName(compatible []string, model string) string {
	for _, c := range compatible {
		// "nvidia,p3768-0000+p3767-0005" is carrier+module: try each part.
		for _, part := range strings.Split(c, "+") {
			if !strings.HasPrefix(part, "nvidia,") {
				part = "nvidia," + part
			}
			for _, m := range jetsonModules {
				if strings.HasPrefix(part, m.prefix) {
					return m.name
				}
			}
		}
	}
	for _, m := range jetsonModels {
		if strings.Contains(model, m.substr) {
			return m.name
		}
	}
	return "jetson"
}

func detectJetson(fsys fs.FS, h *hostInfo, b *Board) (bool, error) {
	isTegra := false
	for _, c := range h.compatible {
		isTegra = isTegra || strings.HasPrefix(c, "nvidia,tegra")
	}
	release, hasRelease, relErr := readOptional(fsys, "etc/nv_tegra_release")
	if !isTegra && !hasRelease {
		return false, nil
	}
	var errs []error
	b.Name = jetsonName(h.compatible, h.model)
	if relErr != nil {
		errs = append(errs, relErr)
	} else if hasRelease {
		v, err := parseL4T(release)
		if err != nil {
			errs = append(errs, err)
		}
		b.L4T = v
	}
	b.Accelerators = append(b.Accelerators, jetsonGPU(fsys))
	return true, errors.Join(errs...)
}

// l4tLine matches the first line of /etc/nv_tegra_release:
// "# R35 (release), REVISION: 4.1, GCID: ..., BOARD: ..., EABI: aarch64, DATE: ...".
var l4tLine = regexp.MustCompile(`^#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)`)

// parseL4T returns the Jetson Linux version, "35.4.1".
func parseL4T(data []byte) (string, error) {
	first, _, _ := strings.Cut(string(data), "\n")
	m := l4tLine.FindStringSubmatch(first)
	if m == nil {
		return "", fmt.Errorf("parse /etc/nv_tegra_release: want \"# R35 (release), REVISION: 4.1, ...\", found %q", truncate([]byte(first)))
	}
	return m[1] + "." + m[2], nil
}

// jetsonGPU reports the integrated GPU by its device node: /dev/nvhost-gpu
// up to Jetson Linux 35, /dev/nvgpu/igpu0 from 36. Without either (a
// container started without the devices) it cannot be used.
func jetsonGPU(fsys fs.FS) Accelerator {
	for _, p := range []string{"dev/nvhost-gpu", "dev/nvgpu/igpu0"} {
		if exists(fsys, p) {
			return Accelerator{Kind: KindJetsonGPU, Path: "/" + p, State: "ready"}
		}
	}
	return Accelerator{Kind: KindJetsonGPU, State: StateNoDevNode}
}
