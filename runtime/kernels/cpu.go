package kernels

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/cpu"
)

// Kernel variants. The portable Go path runs everywhere and is the
// reference every other variant must match bit for bit; the others are
// used when the CPU has the instructions they need.
const (
	VariantPortable = "portable"
	VariantAVX2     = "avx2"    // amd64: AVX2 and FMA
	VariantVNNI     = "vnni"    // amd64: AVX-512 VNNI (VPDPBUSD)
	VariantNEON     = "neon"    // arm64: Advanced SIMD
	VariantDotProd  = "dotprod" // arm64: Advanced SIMD with SDOT/UDOT
)

// cpuFeatures is what the running CPU offers, as the assembly kernels see
// it. Tests and EDGED_KERNELS lower it to force a slower variant.
type cpuFeatures struct {
	avx2, vnni    bool // amd64
	neon, dotprod bool // arm64
	// vbmi (AVX-512 VBMI byte permutes) is part of the vnni variant
	// where the CPU has it.
	vbmi bool
}

// features holds the variant in use. It is set once at start-up (and by
// tests through SetVariant before any interpreter is prepared): kernels
// read it in their constructors, never in Eval.
var features = detectFeatures()

func detectFeatures() cpuFeatures {
	f := detectFeaturesRaw()
	if v := os.Getenv("EDGED_KERNELS"); v != "" {
		if g, err := limitFeatures(f, v); err == nil {
			f = g
		} else {
			fmt.Fprintf(os.Stderr, "edged: EDGED_KERNELS: %v; using %s\n", err, variantOf(f))
		}
	}
	return f
}

// limitFeatures keeps only the features the named variant uses.
func limitFeatures(f cpuFeatures, name string) (cpuFeatures, error) {
	var want cpuFeatures
	switch strings.ToLower(strings.TrimSpace(name)) {
	case VariantPortable:
	case VariantAVX2:
		want.avx2 = true
	case VariantVNNI:
		want.avx2, want.vnni = true, true
	case VariantNEON:
		want.neon = true
	case VariantDotProd:
		want.neon, want.dotprod = true, true
	default:
		return f, fmt.Errorf("unknown kernel variant %q (want %s)", name, strings.Join(allVariants, ", "))
	}
	g := cpuFeatures{
		avx2: f.avx2 && want.avx2, vnni: f.vnni && want.vnni,
		neon: f.neon && want.neon, dotprod: f.dotprod && want.dotprod,
	}
	if g != want {
		return f, fmt.Errorf("kernel variant %q is not available on this CPU (best: %s)", name, variantOf(f))
	}
	g.vbmi = f.vbmi && g.vnni
	return g, nil
}

var allVariants = []string{VariantPortable, VariantAVX2, VariantVNNI, VariantNEON, VariantDotProd}

func variantOf(f cpuFeatures) string {
	switch {
	case f.vnni:
		return VariantVNNI
	case f.avx2:
		return VariantAVX2
	case f.dotprod:
		return VariantDotProd
	case f.neon:
		return VariantNEON
	}
	return VariantPortable
}

// Variant names the kernel variant in use.
func Variant() string { return variantOf(features) }

// Variants lists the variants this CPU can run, fastest last.
func Variants() []string {
	d := detectFeaturesRaw()
	var out []string
	for _, v := range allVariants {
		if _, err := limitFeatures(d, v); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func detectFeaturesRaw() cpuFeatures {
	return cpuFeatures{
		avx2:    cpu.X86.HasAVX2 && cpu.X86.HasFMA,
		vnni:    cpu.X86.HasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI,
		neon:    cpu.ARM64.HasASIMD,
		dotprod: cpu.ARM64.HasASIMD && cpu.ARM64.HasASIMDDP,
		vbmi:    cpu.X86.HasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VBMI,
	}
}

// SetVariant selects the kernel variant for kernels constructed from now
// on and returns the previous one. It is meant for tests and benchmarks,
// which compare every variant with the portable one; it must not be
// called while kernels are being constructed.
func SetVariant(name string) (prev string, err error) {
	prev = Variant()
	f, err := limitFeatures(detectFeaturesRaw(), name)
	if err != nil {
		return prev, err
	}
	features = f
	return prev, nil
}

// floatVariant names the float SIMD kernels of the variant in use, for
// profiles: float kernels have AVX2 (FMA) and NEON versions only.
func floatVariant() string {
	switch {
	case features.avx2:
		return VariantAVX2
	case features.neon:
		return VariantNEON
	}
	return VariantPortable
}
