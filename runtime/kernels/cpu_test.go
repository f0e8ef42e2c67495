package kernels

import (
	"os"
	"slices"
	"testing"
)

func TestSetVariant(t *testing.T) {
	have := Variants()
	if !slices.Contains(have, VariantPortable) {
		t.Fatalf("Variants() = %v; want it to contain %q", have, VariantPortable)
	}
	start := Variant()
	if !slices.Contains(have, start) {
		t.Fatalf("Variant() = %q; not among Variants() %v", start, have)
	}
	defer func() {
		if _, err := SetVariant(start); err != nil {
			t.Errorf("restoring variant %q: %v", start, err)
		}
	}()
	for _, v := range have {
		if _, err := SetVariant(v); err != nil {
			t.Errorf("SetVariant(%q) = %v; want nil (listed by Variants)", v, err)
			continue
		}
		if got := Variant(); got != v {
			t.Errorf("after SetVariant(%q), Variant() = %q", v, got)
		}
	}
	for _, bad := range []string{"", "sse9", "AVX3"} {
		if _, err := SetVariant(bad); err == nil {
			t.Errorf("SetVariant(%q) = nil; want an error", bad)
		}
	}
	for _, v := range allVariants {
		if slices.Contains(have, v) {
			continue
		}
		if _, err := SetVariant(v); err == nil {
			t.Errorf("SetVariant(%q) = nil on a CPU without it; want an error", v)
		}
	}
}

func TestLimitFeatures(t *testing.T) {
	all := cpuFeatures{avx2: true, vnni: true}
	tests := []struct {
		name    string
		want    cpuFeatures
		wantErr bool
	}{
		{name: "portable", want: cpuFeatures{}},
		{name: "avx2", want: cpuFeatures{avx2: true}},
		{name: " VNNI ", want: cpuFeatures{avx2: true, vnni: true}},
		{name: "neon", wantErr: true},
		{name: "bogus", wantErr: true},
	}
	for _, tt := range tests {
		got, err := limitFeatures(all, tt.name)
		if (err != nil) != tt.wantErr {
			t.Errorf("limitFeatures(%q) error = %v; wantErr %v", tt.name, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("limitFeatures(%q) = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

// TestDetectedVariant checks run-time detection against the CPU the test
// runs on when the caller knows it: scripts/cross-test.sh runs this under
// qemu-aarch64 with QEMU_CPU=cortex-a53 (no dot product: Pi 3/4, Jetson
// Nano) and QEMU_CPU=cortex-a76 (dot product: Pi 5), naming the variant
// each must select in EDGED_WANT_VARIANT.
func TestDetectedVariant(t *testing.T) {
	want := os.Getenv("EDGED_WANT_VARIANT")
	if want == "" {
		t.Skip("EDGED_WANT_VARIANT is not set")
	}
	if got := variantOf(detectFeaturesRaw()); got != want {
		t.Errorf("detected variant = %q; want %q on this CPU (QEMU_CPU=%q)", got, want, os.Getenv("QEMU_CPU"))
	}
}
