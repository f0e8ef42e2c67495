// Package memlimit sizes the daemon's memory use from the board it runs
// on: the Go runtime's soft memory limit (GOMEMLIMIT) and a budget of
// request-body bytes decoded at once, which is given back to the
// operating system once a burst is over.
//
// A device has 256 MiB to 8 GiB and shares it with the application that
// calls edged. Without a limit, 32 concurrent 16 MiB request bodies take
// gigabytes, and the Go runtime keeps the pages it grew to long after the
// requests are gone. The budget bounds the first; the release after a
// burst and the soft limit bound the second.
package memlimit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// unlimited is where cgroup limits that are not set start: v1 reports
// 2^63 rounded down to a page, v2 "max".
const unlimited = 1 << 62

// Total returns the memory this process may use, in bytes: the lower of
// the machine's (MemTotal in /proc/meminfo) and its cgroup's limit
// (cgroup v2 memory.max, v1 memory.limit_in_bytes), read under root ("/"
// on a device; tests pass a fixture tree).
func Total(root string) (uint64, error) {
	mem, err := memTotal(filepath.Join(root, "proc", "meminfo"))
	if err != nil {
		return 0, err
	}
	if lim, ok := cgroupLimit(root); ok && lim < mem {
		return lim, nil
	}
	return mem, nil
}

func memTotal(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("memory size: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil || kb == 0 || kb > unlimited>>10 {
				break
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("memory size: no MemTotal line in %s", path)
}

// cgroupLimit reads the memory limit of this process's cgroup, if any.
func cgroupLimit(root string) (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(root, "proc", "self", "cgroup"))
	if err != nil {
		return 0, false
	}
	var files []string
	for line := range strings.Lines(string(b)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || strings.Contains(parts[2], "..") {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			files = append(files, filepath.Join(root, "sys/fs/cgroup", parts[2], "memory.max"), filepath.Join(root, "sys/fs/cgroup/memory.max"))
		case hasItem(parts[1], "memory"): // v1
			files = append(files, filepath.Join(root, "sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"),
				filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes"))
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v == 0 || v >= unlimited {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// hasItem reports whether the comma-separated list has item.
func hasItem(list, item string) bool {
	for s := range strings.SplitSeq(list, ",") {
		if s == item {
			return true
		}
	}
	return false
}

// SoftLimit is the default soft memory limit for a device with total
// bytes: half of it, leaving the rest to the application and the system.
// It is a target for the garbage collector, not a cap: past it the
// collector runs more often (up to half the CPU), it does not fail
// allocations.
func SoftLimit(total uint64) int64 {
	return int64(min(total/2, unlimited))
}

// Apply sets the runtime's soft memory limit to SoftLimit(Total(root)),
// unless the GOMEMLIMIT environment variable sets one, and returns the
// limit in force and where it came from ("GOMEMLIMIT" or "board").
func Apply(root string) (int64, string, error) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT", nil
	}
	total, err := Total(root)
	if err != nil {
		return debug.SetMemoryLimit(-1), "", err
	}
	lim := SoftLimit(total)
	debug.SetMemoryLimit(lim)
	return lim, "board", nil
}

// DefaultBudget is the default budget of request-body bytes decoded at
// once on a device with total bytes: a thirty-second of it, between 32
// MiB and 64 MiB, and never less than one body of maxBody bytes. The
// garbage collector lets the heap grow to about twice what is live, so
// the bodies' share of the resident memory is up to twice the budget.
func DefaultBudget(total uint64, maxBody int64) int64 {
	b := int64(min(max(total/32, 32<<20), 64<<20))
	return max(b, maxBody)
}
