package rollout

import "testing"

// FuzzRestore: a damaged state file never panics Restore, and whatever it
// accepts takes events without panicking.
func FuzzRestore(f *testing.F) {
	clk := &fakeClock{t: t0}
	r, _ := New(testPlan(), devices(20), clk)
	r.Tick()
	r.Report("dev-0000", Active, "")
	b, _ := r.Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Restore(b, clk)
		if err != nil {
			return
		}
		r.Tick()
		for _, d := range r.Devices() {
			r.Report(d.ID, Failed, "")
		}
		r.Summary()
		if _, err := r.Marshal(); err != nil {
			t.Fatalf("Marshal after Restore: %v", err)
		}
	})
}
