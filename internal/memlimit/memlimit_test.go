package memlimit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// board writes a fixture tree: /proc/meminfo with MemTotal kB, and the
// given files.
func board(t *testing.T, memKB string, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	all := map[string]string{"proc/meminfo": "MemTotal:       " + memKB + " kB\nMemFree:         1000 kB\n"}
	for k, v := range files {
		all[k] = v
	}
	for name, content := range all {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestTotal(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name  string
		memKB string
		files map[string]string
		want  uint64
	}{
		// A Raspberry Pi 4 with 1 GiB: MemTotal is what the kernel keeps
		// after the firmware's share.
		{"meminfo only", "948304", nil, 948304 << 10},
		{"cgroup v2 limit below", "8000000", map[string]string{
			"proc/self/cgroup": "0::/system.slice/edged.service\n",
			"sys/fs/cgroup/system.slice/edged.service/memory.max": "268435456\n",
		}, 256 << 20},
		{"cgroup v2 max", "8000000", map[string]string{
			"proc/self/cgroup": "0::/system.slice/edged.service\n",
			"sys/fs/cgroup/system.slice/edged.service/memory.max": "max\n",
		}, 8000000 << 10},
		{"cgroup v2 namespace root", "8000000", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "536870912\n",
		}, 512 << 20},
		{"cgroup v1 unlimited", "2097152", map[string]string{
			"proc/self/cgroup": "9:pids:/\n4:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "9223372036854771712\n",
		}, 2 * gib},
		{"cgroup v1 limit", "2097152", map[string]string{
			"proc/self/cgroup": "4:cpu,memory:/docker/abc\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
		}, gib},
		{"cgroup limit above the board", "1048576", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "4294967296\n",
		}, gib},
		{"cgroup path leaving the tree", "1048576", map[string]string{
			"proc/self/cgroup":      "0::/../../etc\n",
			"etc/memory.max":        "1024\n",
			"sys/fs/cgroup/x/.keep": "",
		}, gib},
	}
	for _, tt := range tests {
		got, err := Total(board(t, tt.memKB, tt.files))
		if err != nil || got != tt.want {
			t.Errorf("Total(%s) = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MemFree: 3 kB\n", "MemTotal: x kB\n", "MemTotal: 0 kB\n"} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "proc"), 0o755)
		os.WriteFile(filepath.Join(root, "proc", "meminfo"), []byte(bad), 0o644)
		if v, err := Total(root); err == nil {
			t.Errorf("Total(meminfo %q) = %d; want an error", bad, v)
		}
	}
}

func TestSizes(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		total            uint64
		maxBody          int64
		soft, budgetWant int64
	}{
		{256 * mib, 16 * mib, 128 * mib, 32 * mib}, // 256/32 = 8 MiB, raised to the 32 MiB floor
		{1536 * mib, 16 * mib, 768 * mib, 48 * mib},
		{8192 * mib, 16 * mib, 4096 * mib, 64 * mib},   // capped
		{8192 * mib, 256 * mib, 4096 * mib, 256 * mib}, // at least one body
	} {
		if got := SoftLimit(tt.total); got != tt.soft {
			t.Errorf("SoftLimit(%d MiB) = %d MiB; want %d", tt.total/mib, got/mib, tt.soft/mib)
		}
		if got := DefaultBudget(tt.total, tt.maxBody); got != tt.budgetWant {
			t.Errorf("DefaultBudget(%d MiB, %d MiB) = %d MiB; want %d", tt.total/mib, tt.maxBody/mib, got/mib, tt.budgetWant/mib)
		}
	}
}

func TestApply(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	t.Setenv("GOMEMLIMIT", "")
	lim, src, err := Apply(board(t, "1048576", nil))
	if err != nil || lim != 512<<20 || src != "board" || debug.SetMemoryLimit(-1) != 512<<20 {
		t.Errorf("Apply(1 GiB board) = %d, %q, %v (runtime %d); want 512 MiB from the board", lim, src, err, debug.SetMemoryLimit(-1))
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	debug.SetMemoryLimit(300 << 20) // as the runtime did at start
	if lim, src, err := Apply(board(t, "1048576", nil)); err != nil || lim != 300<<20 || src != "GOMEMLIMIT" {
		t.Errorf("Apply with GOMEMLIMIT = %d, %q, %v; want the environment's 300 MiB", lim, src, err)
	}
}

func TestBudgetWaits(t *testing.T) {
	b := NewBudget(100, time.Hour)
	defer b.Close()
	ctx := context.Background()
	rel1, err := b.Acquire(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, 101); !errors.Is(err, ErrOverBudget) {
		t.Errorf("Acquire(101 of 100) error %v; want ErrOverBudget", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(short, 50); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire(50 with 40 free) error %v; want to wait out its context", err)
	}
	got := make(chan error)
	go func() {
		rel, err := b.Acquire(ctx, 50)
		if err == nil {
			rel()
		}
		got <- err
	}()
	rel1()
	rel1() // a second call gives nothing back twice
	if err := <-got; err != nil {
		t.Errorf("Acquire(50) after the release: %v", err)
	}
	for range 2 {
		if rel, err := b.Acquire(ctx, 100); err != nil {
			t.Fatalf("Acquire(100) of an idle budget: %v", err)
		} else {
			rel()
		}
	}
}

// TestBudgetReleasesAfterBurst: memory is handed back once after a burst
// that used half the budget or more, when the budget has been idle for
// the settle time, and not after small requests.
func TestBudgetReleasesAfterBurst(t *testing.T) {
	b := NewBudget(100, 10*time.Millisecond)
	defer b.Close()
	var frees atomic.Int32
	freed := make(chan struct{}, 4)
	b.free = func() { frees.Add(1); freed <- struct{}{} }
	ctx := context.Background()
	var rels []func()
	for range 5 {
		r, err := b.Acquire(ctx, 12)
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, r)
	}
	for _, r := range rels {
		r()
	}
	<-freed
	// Small requests (a peak of 10 of 100) release nothing; a second
	// burst releases once more.
	for range 3 {
		r, _ := b.Acquire(ctx, 10)
		r()
	}
	b.mu.Lock()
	armed := b.armed
	b.mu.Unlock()
	if armed {
		t.Error("a release is pending after requests of 10 of 100 bytes")
	}
	r1, _ := b.Acquire(ctx, 30)
	r2, _ := b.Acquire(ctx, 30)
	r1()
	r2()
	<-freed
	if n := frees.Load(); n != 2 || b.Releases() != 2 {
		t.Errorf("%d releases (%d counted); want 2, one per burst", n, b.Releases())
	}
}
