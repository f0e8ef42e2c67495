package rollout

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRollout1000 is a whole 4-wave rollout of 1000 devices: 1000
// reports and the decisions they trigger (each event looks at every
// device, so the cost grows with the square of the fleet).
func BenchmarkRollout1000(b *testing.B) {
	ids := devices(1000)
	b.ReportAllocs()
	for b.Loop() {
		clk := &fakeClock{t: t0}
		r, err := New(DefaultPlan(), ids, clk)
		if err != nil {
			b.Fatal(err)
		}
		queue := r.Tick().Devices
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			clk.t = clk.t.Add(time.Millisecond)
			d, err := r.Report(id, Active, "")
			if err != nil {
				b.Fatal(err)
			}
			if d.Action == StartWave {
				queue = append(queue, d.Devices...)
			}
		}
		if r.Phase() != Done {
			b.Fatalf("phase %s; want done", r.Phase())
		}
	}
}

// BenchmarkSave1000 is the driver's state file written after one device
// of a 1000-device rollout changed, every device sent the deploy: the whole file marshalled and
// written atomically (write, fsync, rename, fsync of the directory), as
// after every decision or batch of reports.
func BenchmarkSave1000(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		name := "marshal"
		if fsync {
			name = "marshal+write"
		}
		b.Run(name, func(b *testing.B) {
			clk := &fakeClock{t: t0}
			r, err := New(DefaultPlan(), devices(1000), clk)
			if err != nil {
				b.Fatal(err)
			}
			// Every device sent the deploy and active: the file at its largest.
			queue := r.Tick().Devices
			for len(queue) > 0 {
				id := queue[0]
				queue = queue[1:]
				clk.t = clk.t.Add(time.Millisecond)
				dec, err := r.Report(id, Active, "model m version 2 serving")
				if err != nil {
					b.Fatal(err)
				}
				if dec.Action == StartWave {
					queue = append(queue, dec.Devices...)
				}
			}
			d := &Driver{File: &File{V: FileVersion, CmdID: "m-v2-1", Model: "m", Version: 2, Manifest: make([]byte, 1500)},
				Rollout: r, Path: filepath.Join(b.TempDir(), "rollout.json")}
			states := []Status{Deploying, Active}
			size := 0
			for i := 0; b.Loop(); i++ {
				clk.t = clk.t.Add(time.Millisecond)
				if _, err := r.Report("dev-0000", states[i%2], ""); err != nil {
					b.Fatal(err)
				}
				if fsync {
					if err := d.Save(); err != nil {
						b.Fatal(err)
					}
					size = len(d.saved)
					continue
				}
				st, err := r.Marshal()
				if err != nil {
					b.Fatal(err)
				}
				d.File.Rollout = st
				out, err := json.MarshalIndent(d.File, "", " ")
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			b.ReportMetric(float64(size), "file-bytes")
		})
	}
}
