package telemetry

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Disk reports the free and total MiB of the filesystem holding Path
// (the data directory).
type Disk struct {
	Path string
}

// Collect implements Collector.
func (d Disk) Collect(s *Snapshot) error {
	if d.Path == "" {
		return ErrNoData
	}
	var st unix.Statfs_t
	if err := unix.Statfs(d.Path, &st); err != nil {
		return fmt.Errorf("telemetry: disk of %s: %w", d.Path, err)
	}
	sys := system(s)
	sys.DiskFree = st.Bavail * uint64(st.Bsize) >> 20
	sys.DiskTotal = st.Blocks * uint64(st.Bsize) >> 20
	return nil
}
