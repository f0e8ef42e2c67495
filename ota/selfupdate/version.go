package selfupdate

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Version packing: a manifest's version is one unsigned integer that must
// grow with every release (ota/sign refuses one that does not), while edged
// binaries carry a release name "MAJOR.MINOR.PATCH". The two meet in
// ParseVersion: MAJOR*1_000_000 + MINOR*1_000 + PATCH, so 1.2.3 is 1002003
// and the integer still reads as the release in decimal.
const (
	minorScale = 1_000
	majorScale = 1_000_000
	maxMajor   = 999_999
)

// ParseVersion returns the manifest version of a release name "1.2.3" (a
// leading "v" is allowed). MINOR and PATCH must be below 1000. Anything
// else, such as "dev" or a git-describe name, is an error: such a build has
// no place in the order of releases.
func ParseVersion(s string) (uint64, error) {
	t := strings.TrimPrefix(s, "v")
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return 0, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH", s)
	}
	var n [3]uint64
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') || strings.TrimLeft(p, "0123456789") != "" {
			return 0, fmt.Errorf("version %q: %q is not a decimal number without leading zeros", s, p)
		}
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("version %q: %q is not a decimal number", s, p)
		}
		n[i] = v
	}
	switch {
	case n[0] > maxMajor:
		return 0, fmt.Errorf("version %q: major %d is above %d", s, n[0], maxMajor)
	case n[1] >= minorScale || n[2] >= minorScale:
		return 0, fmt.Errorf("version %q: minor and patch must be below %d", s, minorScale)
	case n == [3]uint64{}:
		return 0, fmt.Errorf("version %q: 0.0.0 is not a release", s)
	}
	return n[0]*majorScale + n[1]*minorScale + n[2], nil
}

// FormatVersion is the inverse of ParseVersion.
func FormatVersion(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/majorScale, v/minorScale%minorScale, v%minorScale)
}

// Variant names the blob an edged binary needs: "GOOS-GOARCH", except for
// 32-bit ARM, where the instruction set matters and GOARM is spelled out:
// "linux-armv6" (Raspberry Pi Zero/1), "linux-armv7". So the release files
// are edged-linux-amd64, edged-linux-arm64, edged-linux-armv7, ...
func Variant(goos, goarch, goarm string) string {
	if goarch == "arm" {
		if goarm == "" {
			goarm = "7"
		}
		// GOARM may carry ",softfloat" or ",hardfloat" since Go 1.22.
		goarm, _, _ = strings.Cut(goarm, ",")
		return goos + "-armv" + goarm
	}
	return goos + "-" + goarch
}

// CurrentVariant is the Variant of the running binary.
func CurrentVariant() string {
	goarm := ""
	if runtime.GOARCH == "arm" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "GOARM" {
					goarm = s.Value
				}
			}
		}
	}
	return Variant(runtime.GOOS, runtime.GOARCH, goarm)
}
