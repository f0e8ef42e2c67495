package brokertest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcStat is a process's CPU time and memory, read from /proc.
type ProcStat struct {
	CPU time.Duration // user + system, since it started
	RSS int64         // resident now, bytes
	HWM int64         // peak resident, bytes
}

// ReadProc reads /proc/pid/stat and /proc/pid/status (Linux; the clock
// tick is taken as 100 Hz, the kernel's USER_HZ on every Linux port).
func ReadProc(pid int) (ProcStat, error) {
	var s ProcStat
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The fields after the command name, which is in parentheses.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(ut+st) * 10 * time.Millisecond
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.RSS = kb << 10
		case "VmHWM":
			s.HWM = kb << 10
		}
	}
	return s, nil
}
