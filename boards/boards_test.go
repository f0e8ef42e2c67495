package boards

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

// loadFixture reads testdata/<board> into a MapFS. Fixture file names spell
// ':' as "%3A" because Go module zips reject ':' in paths; the real name of
// the Pi's firmware directory is "soc:firmware".
func loadFixture(t testing.TB, board string) fstest.MapFS {
	t.Helper()
	root := filepath.Join("testdata", board)
	m := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return err
		}
		m[strings.ReplaceAll(p, "%3A", ":")] = &fstest.MapFile{Data: data, Mode: 0o444}
		return nil
	})
	if err != nil {
		t.Fatalf("load fixture %s: %v", board, err)
	}
	return m
}

type want struct {
	name, family, model, arch string
	revision, l4t             string
	cores                     int
	cpu                       string
	features                  []string
	mem                       uint64
	accels                    []Accelerator
	throttle                  *Throttle
	zones                     int
	zone0                     ThermalZone
	threads                   int
	delegates                 []string
}

var (
	noDelegates = []string{"cpu"}
	tpuFirst    = []string{"edgetpu", "cpu"}
	gpuFirst    = []string{"gpu", "cpu"}
)

// Expected values come from the fixture files (see testdata/README.md for
// their sources): names from the published revision-code and P-number
// tables, memory as MemTotal kB x 1024, threads from DefaultThreads' rule.
var fixtures = []struct {
	dir  string
	want want
}{
	{"rpi-zero-2w", want{
		name: "rpi-zero-2-w", family: FamilyRaspberryPi, model: "Raspberry Pi Zero 2 W Rev 1.0", arch: "arm64",
		revision: "902120", cores: 4, cpu: "Cortex-A53", features: []string{"neon"}, mem: 439532 * 1024,
		throttle: &Throttle{}, zones: 1, zone0: ThermalZone{"thermal_zone0", "cpu-thermal", 44.008},
		threads: 4, delegates: noDelegates,
	}},
	{"rpi-3", want{
		name: "rpi-3b-plus", family: FamilyRaspberryPi, model: "Raspberry Pi 3 Model B Plus Rev 1.3", arch: "arm",
		revision: "a020d3", cores: 4, cpu: "Cortex-A53", features: []string{"neon"}, mem: 948304 * 1024,
		throttle: &Throttle{Raw: 0x50005, UnderVoltage: true, Throttled: true, UnderVoltageOccurred: true, ThrottledOccurred: true},
		zones:    1, zone0: ThermalZone{"thermal_zone0", "cpu-thermal", 61.224},
		threads: 4, delegates: noDelegates,
	}},
	{"rpi-4", want{
		name: "rpi-4b", family: FamilyRaspberryPi, model: "Raspberry Pi 4 Model B Rev 1.4", arch: "arm64",
		revision: "d03114", cores: 4, cpu: "Cortex-A72", features: []string{"neon"}, mem: 7997812 * 1024,
		throttle: &Throttle{}, zones: 1, zone0: ThermalZone{"thermal_zone0", "cpu-thermal", 47.712},
		threads: 4, delegates: noDelegates,
	}},
	{"rpi-5", want{
		name: "rpi-5", family: FamilyRaspberryPi, model: "Raspberry Pi 5 Model B Rev 1.0", arch: "arm64",
		revision: "d04170", cores: 4, cpu: "Cortex-A76", features: []string{"neon", "asimddp"}, mem: 8245408 * 1024,
		accels:   []Accelerator{{KindEdgeTPUUSB, "usb:2-1", "ready"}},
		throttle: &Throttle{Raw: 0x80000, SoftTempLimitOccurred: true},
		zones:    1, zone0: ThermalZone{"thermal_zone0", "cpu-thermal", 58.35},
		threads: 4, delegates: tpuFirst,
	}},
	{"jetson-nano", want{
		name: "jetson-nano", family: FamilyJetson, model: "NVIDIA Jetson Nano Developer Kit", arch: "arm64",
		l4t: "32.7.1", cores: 4, cpu: "Cortex-A57", features: []string{"neon"}, mem: 4059164 * 1024,
		accels: []Accelerator{{KindJetsonGPU, "/dev/nvhost-gpu", "ready"}},
		zones:  6, zone0: ThermalZone{"thermal_zone0", "AO-therm", 38.5},
		threads: 4, delegates: gpuFirst,
	}},
	{"jetson-xavier-nx", want{
		name: "jetson-xavier-nx", family: FamilyJetson, model: "NVIDIA Jetson Xavier NX Developer Kit", arch: "arm64",
		l4t: "35.5.0", cores: 6, cpu: "Carmel", features: []string{"neon"}, mem: 7765712 * 1024,
		accels: []Accelerator{{KindJetsonGPU, "/dev/nvhost-gpu", "ready"}},
		zones:  7, zone0: ThermalZone{"thermal_zone0", "CPU-therm", 41.5},
		threads: 5, delegates: gpuFirst,
	}},
	{"jetson-orin-nano", want{
		name: "jetson-orin-nano", family: FamilyJetson, model: "NVIDIA Jetson Orin Nano Developer Kit", arch: "arm64",
		l4t: "36.3.0", cores: 6, cpu: "Cortex-A78AE", features: []string{"neon", "asimddp"}, mem: 7620584 * 1024,
		accels: []Accelerator{{KindJetsonGPU, "/dev/nvgpu/igpu0", "ready"}},
		zones:  9, zone0: ThermalZone{"thermal_zone0", "cpu-thermal", 47.156},
		threads: 5, delegates: gpuFirst,
	}},
	{"jetson-orin-nx", want{
		name: "jetson-orin-nx", family: FamilyJetson, model: "NVIDIA Jetson Orin NX Engineering Reference Developer Kit", arch: "arm64",
		l4t: "35.4.1", cores: 8, cpu: "Cortex-A78AE", features: []string{"neon", "asimddp"}, mem: 15657552 * 1024,
		accels: []Accelerator{{KindJetsonGPU, "/dev/nvhost-gpu", "ready"}},
		zones:  9, zone0: ThermalZone{"thermal_zone0", "CPU-therm", 44.5},
		threads: 7, delegates: gpuFirst,
	}},
	{"jetson-agx-orin", want{
		name: "jetson-agx-orin", family: FamilyJetson, model: "NVIDIA Jetson AGX Orin Developer Kit", arch: "arm64",
		l4t: "36.4.0", cores: 12, cpu: "Cortex-A78AE", features: []string{"neon", "asimddp"}, mem: 30695512 * 1024,
		accels: []Accelerator{{KindJetsonGPU, "/dev/nvgpu/igpu0", "ready"}},
		zones:  9, zone0: ThermalZone{"thermal_zone0", "cpu-thermal", 40.843},
		threads: 8, delegates: gpuFirst,
	}},
	{"coral-dev-board", want{
		name: "coral-dev-board", family: FamilyCoral, model: "Freescale i.MX8MQ Phanbell", arch: "arm64",
		cores: 4, cpu: "Cortex-A53", features: []string{"neon"}, mem: 1003612 * 1024,
		accels: []Accelerator{{KindEdgeTPUPCIe, "/dev/apex_0", "ready"}},
		zones:  2, zone0: ThermalZone{"thermal_zone0", "cpu-thermal", 39},
		threads: 4, delegates: tpuFirst,
	}},
	{"coral-dev-board-mini", want{
		name: "coral-dev-board-mini", family: FamilyCoral, model: "Google Coral MT8167", arch: "arm64",
		cores: 4, cpu: "Cortex-A35", features: []string{"neon"}, mem: 2016396 * 1024,
		accels: []Accelerator{{KindEdgeTPUUSB, "usb:1-1", "ready"}},
		zones:  1, zone0: ThermalZone{"thermal_zone0", "cpu_thermal", 41.3},
		threads: 4, delegates: tpuFirst,
	}},
	{"coral-usb-x86", want{
		name: "generic-x86-64", family: FamilyGeneric, model: "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", arch: "amd64",
		cores: 8, cpu: "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", features: []string{"fma", "avx2"}, mem: 16226020 * 1024,
		accels: []Accelerator{{KindEdgeTPUUSB, "usb:1-2", "bootloader"}},
		zones:  3, zone0: ThermalZone{"thermal_zone0", "acpitz", 27.8},
		threads: 7, delegates: tpuFirst,
	}},
	{"coral-pcie-x86", want{
		name: "generic-x86-64", family: FamilyGeneric, model: "Intel(R) Celeron(R) J4125 CPU @ 2.00GHz", arch: "amd64",
		cores: 4, cpu: "Intel(R) Celeron(R) J4125 CPU @ 2.00GHz", mem: 7978512 * 1024,
		accels: []Accelerator{
			{KindEdgeTPUPCIe, "/dev/apex_0", "ready"},
			{KindEdgeTPUPCIe, "/sys/class/apex/apex_1", StateNoDevNode},
		},
		zones: 2, zone0: ThermalZone{"thermal_zone0", "acpitz", 25},
		threads: 4, delegates: tpuFirst,
	}},
	{"generic-arm64", want{
		name: "generic-arm64", family: FamilyGeneric, arch: "arm64",
		cores: 2, cpu: "Neoverse-N1", features: []string{"neon", "asimddp"}, mem: 3956896 * 1024,
		threads: 1, delegates: noDelegates,
	}},
	{"generic-x86-64", want{
		name: "generic-x86-64", family: FamilyGeneric, model: "AMD EPYC", arch: "amd64",
		cores: 2, cpu: "AMD EPYC", features: []string{"fma", "avx2", "avx512f", "avx512_vnni", "avx_vnni"}, mem: 24683620 * 1024,
		threads: 1, delegates: noDelegates,
	}},
}

func TestDetectFixtures(t *testing.T) {
	for _, tt := range fixtures {
		t.Run(tt.dir, func(t *testing.T) {
			b, err := Detect(loadFixture(t, tt.dir))
			if err != nil {
				t.Fatalf("Detect(%s) error = %v; want nil", tt.dir, err)
			}
			w := tt.want
			str := []struct{ field, got, want string }{
				{"Name", b.Name, w.name}, {"Family", b.Family, w.family}, {"Model", b.Model, w.model},
				{"Arch", b.Arch, w.arch}, {"Revision", b.Revision, w.revision}, {"L4T", b.L4T, w.l4t},
				{"CPU.Name", b.CPU.Name, w.cpu},
			}
			for _, s := range str {
				if s.got != s.want {
					t.Errorf("Detect(%s).%s = %q; want %q", tt.dir, s.field, s.got, s.want)
				}
			}
			if b.CPU.Cores != w.cores {
				t.Errorf("Detect(%s).CPU.Cores = %d; want %d", tt.dir, b.CPU.Cores, w.cores)
			}
			if !reflect.DeepEqual(b.CPU.Features, w.features) {
				t.Errorf("Detect(%s).CPU.Features = %q; want %q", tt.dir, b.CPU.Features, w.features)
			}
			if b.MemoryBytes != w.mem {
				t.Errorf("Detect(%s).MemoryBytes = %d; want %d", tt.dir, b.MemoryBytes, w.mem)
			}
			if !reflect.DeepEqual(b.Accelerators, w.accels) {
				t.Errorf("Detect(%s).Accelerators = %+v; want %+v", tt.dir, b.Accelerators, w.accels)
			}
			if !reflect.DeepEqual(b.Throttle, w.throttle) {
				t.Errorf("Detect(%s).Throttle = %+v; want %+v", tt.dir, b.Throttle, w.throttle)
			}
			if len(b.Thermal) != w.zones {
				t.Errorf("Detect(%s) thermal zones = %d; want %d", tt.dir, len(b.Thermal), w.zones)
			} else if w.zones > 0 && b.Thermal[0] != w.zone0 {
				t.Errorf("Detect(%s).Thermal[0] = %+v; want %+v", tt.dir, b.Thermal[0], w.zone0)
			}
			if got := b.DefaultThreads(); got != w.threads {
				t.Errorf("Detect(%s).DefaultThreads() = %d; want %d", tt.dir, got, w.threads)
			}
			if got := b.PreferredDelegates(); !reflect.DeepEqual(got, w.delegates) {
				t.Errorf("Detect(%s).PreferredDelegates() = %q; want %q", tt.dir, got, w.delegates)
			}
		})
	}
}

func TestDetectNoData(t *testing.T) {
	b, err := Detect(fstest.MapFS{})
	if !errors.Is(err, ErrNoData) {
		t.Fatalf("Detect(empty) error = %v; want ErrNoData", err)
	}
	if b.Name != "unknown" {
		t.Errorf("Detect(empty).Name = %q; want %q", b.Name, "unknown")
	}
	if got := b.DefaultThreads(); got != 1 {
		t.Errorf("Detect(empty).DefaultThreads() = %d; want 1", got)
	}
	if got := b.PreferredDelegates(); !reflect.DeepEqual(got, []string{"cpu"}) {
		t.Errorf("Detect(empty).PreferredDelegates() = %q; want [cpu]", got)
	}
}

// TestDetectPartial removes one file at a time from a fixture: detection
// still succeeds with what is left, and missing files are not errors.
func TestDetectPartial(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		drop    string
		check   func(b Board) string
	}{
		{"pi without cpuinfo names the board from its model", "rpi-4", "proc/cpuinfo", func(b Board) string {
			if b.Name != "rpi-4-model-b" || b.CPU.Cores != 4 || b.Arch != "" {
				return "want Name rpi-4-model-b, 4 cores from online, no arch"
			}
			return ""
		}},
		{"cores fall back to cpuinfo", "jetson-orin-nx", "sys/devices/system/cpu/online", func(b Board) string {
			if b.CPU.Cores != 8 {
				return "want 8 cores counted from /proc/cpuinfo"
			}
			return ""
		}},
		{"jetson without nv_tegra_release", "jetson-orin-nano", "etc/nv_tegra_release", func(b Board) string {
			if b.Name != "jetson-orin-nano" || b.L4T != "" {
				return "want Name jetson-orin-nano and empty L4T"
			}
			return ""
		}},
		{"jetson without compatible keeps the family from nv_tegra_release", "jetson-nano", "proc/device-tree/compatible", func(b Board) string {
			if b.Name != "jetson-nano" || b.L4T != "32.7.1" {
				return "want Name jetson-nano (from model) and L4T 32.7.1"
			}
			return ""
		}},
		{"jetson gpu without its node is not preferred", "jetson-nano", "dev/nvhost-gpu", func(b Board) string {
			if !reflect.DeepEqual(b.PreferredDelegates(), []string{"cpu"}) || len(b.Accelerators) != 1 || b.Accelerators[0].State != StateNoDevNode {
				return "want the GPU listed as no-dev-node and delegates [cpu]"
			}
			return ""
		}},
		{"no meminfo", "rpi-5", "proc/meminfo", func(b Board) string {
			if b.MemoryBytes != 0 || b.Name != "rpi-5" {
				return "want MemoryBytes 0 and Name rpi-5"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadFixture(t, tt.fixture)
			if _, ok := m[tt.drop]; !ok {
				t.Fatalf("fixture %s has no %s", tt.fixture, tt.drop)
			}
			delete(m, tt.drop)
			b, err := Detect(m)
			if err != nil {
				t.Fatalf("Detect(%s without %s) error = %v; want nil", tt.fixture, tt.drop, err)
			}
			if msg := tt.check(b); msg != "" {
				t.Errorf("Detect(%s without %s) = %+v; %s", tt.fixture, tt.drop, b, msg)
			}
		})
	}
}

// TestDetectMalformed replaces one file with bad content: Detect reports an
// error naming the file and still returns everything else.
func TestDetectMalformed(t *testing.T) {
	tests := []struct {
		name     string
		fixture  string
		file     string
		content  string
		wantErr  string
		wantName string
	}{
		{"revision not hex", "rpi-4", "proc/cpuinfo", "processor\t: 0\nRevision\t: zz\n", "Revision", "rpi-4-model-b"},
		{"revision unknown type", "rpi-4", "proc/cpuinfo", "processor\t: 0\nRevision\t: d03ff4\n", "unknown board type", "rpi-4-model-b"},
		{"online garbage", "rpi-5", "sys/devices/system/cpu/online", "three\n", "/sys/devices/system/cpu/online", "rpi-5"},
		{"meminfo without MemTotal", "rpi-5", "proc/meminfo", "MemFree: 12 kB\n", "MemTotal", "rpi-5"},
		{"meminfo MemTotal garbage", "rpi-5", "proc/meminfo", "MemTotal: lots\n", "MemTotal", "rpi-5"},
		{"nv_tegra_release garbage", "jetson-orin-nano", "etc/nv_tegra_release", "hello\n", "nv_tegra_release", "jetson-orin-nano"},
		{"throttle garbage", "rpi-3", "sys/devices/platform/soc/soc:firmware/get_throttled", "throttled=maybe\n", "get_throttled", "rpi-3b-plus"},
		{"thermal temp garbage", "rpi-4", "sys/class/thermal/thermal_zone0/temp", "hot\n", "thermal_zone0/temp", "rpi-4b"},
		{"cpuinfo garbage", "coral-dev-board", "proc/cpuinfo", "\x00\x01\x02garbage", "/proc/cpuinfo", "coral-dev-board"},
		{"model not text", "generic-arm64", "proc/device-tree/model", "\x01\x02\x03\x00", "device-tree model", "generic-arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadFixture(t, tt.fixture)
			m[tt.file] = &fstest.MapFile{Data: []byte(tt.content)}
			b, err := Detect(m)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Detect(%s, %s=%q) error = %v; want one mentioning %q", tt.fixture, tt.file, tt.content, err, tt.wantErr)
			}
			if errors.Is(err, ErrNoData) {
				t.Errorf("Detect(%s, %s=%q) error = %v; want not ErrNoData", tt.fixture, tt.file, tt.content, err)
			}
			if b.Name != tt.wantName {
				t.Errorf("Detect(%s, %s=%q).Name = %q; want %q", tt.fixture, tt.file, tt.content, b.Name, tt.wantName)
			}
		})
	}
}

// TestDetectGarbage overwrites each fixture file in turn with hostile
// content; Detect must return (any error is fine) without panicking.
func TestDetectGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	garbage := [][]byte{
		nil,
		[]byte("\x00"),
		[]byte("\x00\x00\x00"),
		[]byte("processor : 0\nCPU implementer : 0xffffffffffffffffff\nCPU part : -1\nCPU architecture: 8\n"),
		[]byte("0-99999999999999999999\n"),
		[]byte("4294967295-0\n"),
		[]byte("MemTotal: 18446744073709551615 kB\n"),
		[]byte("# R (release), REVISION: , GCID\n"),
		[]byte(strings.Repeat("x", 70<<10)), // longer than bufio's default token
		[]byte(strings.Repeat("Features\t: asimd\n", 1000)),
		random(64),
		random(maxFile + 10),
	}
	for _, fx := range fixtures {
		base := loadFixture(t, fx.dir)
		for name := range base {
			for i, g := range garbage {
				m := maps.Clone(base)
				m[name] = &fstest.MapFile{Data: g}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("Detect(%s, %s=garbage[%d]) panicked: %v", fx.dir, name, i, r)
						}
					}()
					b, _ := Detect(m)
					_ = b.Summary()
					_ = b.DefaultThreads()
					_ = b.PreferredDelegates()
				}()
			}
		}
	}
}

// FuzzDetect feeds arbitrary bytes to the files Detect parses. `go test`
// runs the seeds; `go test -fuzz FuzzDetect ./boards` explores.
func FuzzDetect(f *testing.F) {
	for _, fx := range []string{"rpi-5", "rpi-3", "jetson-orin-nano", "coral-usb-x86"} {
		m := loadFixture(f, fx)
		get := func(p string) []byte {
			if mf, ok := m[p]; ok {
				return mf.Data
			}
			return nil
		}
		f.Add(get("proc/device-tree/model"), get("proc/device-tree/compatible"), get("proc/cpuinfo"),
			get("sys/devices/system/cpu/online"), get("proc/meminfo"), get("etc/nv_tegra_release"), []byte("50005\n"))
	}
	f.Fuzz(func(t *testing.T, model, compat, cpuinfo, online, meminfo, release, throttled []byte) {
		m := fstest.MapFS{
			"proc/device-tree/model":                              {Data: model},
			"proc/device-tree/compatible":                         {Data: compat},
			"proc/cpuinfo":                                        {Data: cpuinfo},
			"sys/devices/system/cpu/online":                       {Data: online},
			"proc/meminfo":                                        {Data: meminfo},
			"etc/nv_tegra_release":                                {Data: release},
			"sys/devices/platform/soc/soc:firmware/get_throttled": {Data: throttled},
			"sys/class/thermal/thermal_zone0/temp":                {Data: online},
			"sys/bus/usb/devices/1-1/idVendor":                    {Data: model},
			"sys/bus/usb/devices/1-1/idProduct":                   {Data: compat},
		}
		b, _ := Detect(m)
		if b.DefaultThreads() < 1 {
			t.Errorf("DefaultThreads() = %d; want >= 1", b.DefaultThreads())
		}
		_ = b.Summary()
	})
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"0", 1, false},
		{"0-3", 4, false},
		{"0-3,6", 5, false},
		{"0,2,4-7", 6, false},
		{"0-11", 12, false},
		{"", 0, true},
		{"a-b", 0, true},
		{"3-1", 0, true},
		{"-1", 0, true},
		{"0-", 0, true},
	}
	for _, tt := range tests {
		got, err := parseCPUList(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseCPUList(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// Codes and models from the Raspberry Pi revision-codes table.
func TestRPiNameFromRevision(t *testing.T) {
	tests := []struct {
		rev     string
		want    string
		wantErr bool
	}{
		{"a02082", "rpi-3b", false},
		{"a020d3", "rpi-3b-plus", false},
		{"9020e0", "rpi-3a-plus", false},
		{"c03111", "rpi-4b", false},
		{"c03130", "rpi-400", false},
		{"a03140", "rpi-cm4", false},
		{"902120", "rpi-zero-2-w", false},
		{"c04170", "rpi-5", false},
		{"a01041", "rpi-2b", false},
		{"0002", "rpi-1", false},
		{"1000002", "rpi-1", false}, // over-voltage prefix
		{"0016", "", true},
		{"zz", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := rpiNameFromRevision(tt.rev)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("rpiNameFromRevision(%q) = %q, %v; want %q, error %v", tt.rev, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseL4T(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023\n", "35.4.1", false},
		{"# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022", "32.7.1", false},
		{"# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, DATE: Fri Jul 19 23:24:25 UTC 2024\n# KERNEL_VARIANT: oot\n", "36.3.0", false},
		{"# R32 (release), REVISION: 4, GCID: 1", "32.4", false},
		{"R35 4.1", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := parseL4T([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseL4T(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestJetsonName(t *testing.T) {
	tests := []struct {
		compat []string
		model  string
		want   string
	}{
		{[]string{"nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234"}, "", "jetson-orin-nano"},
		{[]string{"nvidia,p3768-0000+p3767-0004", "nvidia,p3767-0004", "nvidia,tegra234"}, "", "jetson-orin-nano"},
		{[]string{"nvidia,p3768-0000+p3767-0001", "nvidia,p3767-0001", "nvidia,tegra234"}, "", "jetson-orin-nx"},
		{[]string{"nvidia,p3737-0000+p3701-0005", "nvidia,p3701-0005", "nvidia,tegra234"}, "", "jetson-agx-orin"},
		{[]string{"nvidia,p3509-0000+p3668-0000", "nvidia,tegra194"}, "", "jetson-xavier-nx"},
		{[]string{"nvidia,p2972-0000", "nvidia,tegra194"}, "", "jetson-agx-xavier"},
		{[]string{"nvidia,p3449-0000-b00+p3448-0002-b00", "nvidia,jetson-nano", "nvidia,tegra210"}, "", "jetson-nano"},
		{[]string{"nvidia,tegra234"}, "NVIDIA Jetson Orin Nano Developer Kit", "jetson-orin-nano"},
		{[]string{"nvidia,tegra186"}, "quill", "jetson"},
	}
	for _, tt := range tests {
		if got := jetsonName(tt.compat, tt.model); got != tt.want {
			t.Errorf("jetsonName(%q, %q) = %q; want %q", tt.compat, tt.model, got, tt.want)
		}
	}
}

func TestDefaultThreads(t *testing.T) {
	tests := []struct{ cores, want int }{
		{0, 1}, {1, 1}, {2, 1}, {3, 3}, {4, 4}, {6, 5}, {8, 7}, {9, 8}, {12, 8}, {64, 8},
	}
	for _, tt := range tests {
		if got := (Board{CPU: CPU{Cores: tt.cores}}).DefaultThreads(); got != tt.want {
			t.Errorf("DefaultThreads(%d cores) = %d; want %d", tt.cores, got, tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		fixture string
		want    string
	}{
		{"rpi-5", "rpi-5: Raspberry Pi 5 Model B Rev 1.0, 4x Cortex-A76 (neon asimddp), 7.9 GiB, edgetpu-usb, throttled=0x80000"},
		{"jetson-orin-nano", "jetson-orin-nano: NVIDIA Jetson Orin Nano Developer Kit, L4T 36.3.0, 6x Cortex-A78AE (neon asimddp), 7.3 GiB, jetson-gpu"},
		{"coral-usb-x86", "generic-x86-64: Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz, 8x Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz (fma avx2), 15.5 GiB, edgetpu-usb (bootloader)"},
	}
	for _, tt := range tests {
		b, err := Detect(loadFixture(t, tt.fixture))
		if err != nil {
			t.Fatalf("Detect(%s): %v", tt.fixture, err)
		}
		if got := b.Summary(); got != tt.want {
			t.Errorf("Detect(%s).Summary() = %q; want %q", tt.fixture, got, tt.want)
		}
	}
}

func TestBoardJSON(t *testing.T) {
	b, err := Detect(loadFixture(t, "rpi-3"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatalf("json.Marshal(Board): %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "family", "model", "revision", "arch", "cpu", "memory_bytes", "thermal", "throttle"} {
		if _, ok := m[k]; !ok {
			t.Errorf("json.Marshal(Board) = %s; want key %q", data, k)
		}
	}
	var back Board
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, b) {
		t.Errorf("json round trip = %+v, %v; want %+v", back, err, b)
	}
}

// TestDetectHost runs on the real root: it must find something on Linux.
func TestDetectHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads a Linux root filesystem")
	}
	b, err := Detect(os.DirFS("/"))
	if errors.Is(err, ErrNoData) {
		t.Fatalf("Detect(/) error = %v; want data on a Linux host", err)
	}
	if b.CPU.Cores < 1 {
		t.Errorf("Detect(/).CPU.Cores = %d; want >= 1", b.CPU.Cores)
	}
	t.Logf("Detect(/) = %s (err %v)", b.Summary(), err)
}

// Bits from the Raspberry Pi documentation of vcgencmd get_throttled.
func TestThrottle(t *testing.T) {
	tests := []struct {
		raw  uint32
		want Throttle
		str  string
	}{
		{0, Throttle{}, "0x0: ok"},
		{0x50005, Throttle{Raw: 0x50005, UnderVoltage: true, Throttled: true, UnderVoltageOccurred: true, ThrottledOccurred: true},
			"0x50005: under-voltage, throttled; since boot: under-voltage, throttled"},
		{0x80000, Throttle{Raw: 0x80000, SoftTempLimitOccurred: true}, "0x80000: since boot: soft temperature limit"},
		{0xa, Throttle{Raw: 0xa, FreqCapped: true, SoftTempLimit: true}, "0xa: frequency capped, soft temperature limit"},
		{0xf000f, Throttle{Raw: 0xf000f, UnderVoltage: true, FreqCapped: true, Throttled: true, SoftTempLimit: true,
			UnderVoltageOccurred: true, FreqCappedOccurred: true, ThrottledOccurred: true, SoftTempLimitOccurred: true},
			"0xf000f: under-voltage, frequency capped, throttled, soft temperature limit; since boot: under-voltage, frequency capped, throttled, soft temperature limit"},
	}
	for _, tt := range tests {
		got := DecodeThrottle(tt.raw)
		if got != tt.want {
			t.Errorf("DecodeThrottle(%#x) = %+v; want %+v", tt.raw, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("DecodeThrottle(%#x).String() = %q; want %q", tt.raw, s, tt.str)
		}
	}
}
