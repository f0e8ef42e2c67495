package rollout

// Resent restarts the timeout of the named devices that are deploying,
// for edgectl sending the deploy again after a restart: the time it was
// down is not held against them. Other devices are left alone. It
// decides nothing; the next Tick or Report does.
func (r *Rollout) Resent(ids []string) {
	now := r.clock.Now()
	for _, id := range ids {
		if i, ok := r.index[id]; ok && r.st.Devices[i].Status == Deploying {
			r.st.Devices[i].Since = now
		}
	}
}
