//go:build !linux

package telemetry

// Disk reports the free and total bytes of the filesystem holding Path;
// it has no data off Linux.
type Disk struct {
	Path string
}

// Collect implements Collector.
func (d Disk) Collect(s *Snapshot) error { return ErrNoData }
