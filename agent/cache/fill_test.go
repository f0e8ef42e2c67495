package cache

import "testing"

// fill puts input(i) -> outputs(byte(i)) for i < n in a few large
// transactions without fsync, the fast way to make a big store for tests
// and benchmarks. (Not one transaction: bbolt keeps a transaction's
// inserts into one leaf in one sorted slice until commit, so one huge
// transaction of random keys is quadratic.)
func fill(tb testing.TB, s *Store, model string, n int) {
	tb.Helper()
	now := s.opts.Now().UnixNano()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	noSync := s.db.NoSync
	s.db.NoSync = true
	defer func() { s.db.NoSync = noSync }()
	const chunk = 2000
	for lo := 0; lo < n; lo += chunk {
		if err := s.update(func(w *writer) error { return fillRange(w, model, now, lo, min(lo+chunk, n)) }); err != nil {
			tb.Fatalf("fill: %v", err)
		}
	}
	if err := s.db.Sync(); err != nil {
		tb.Fatalf("fill: %v", err)
	}
}

func fillRange(w *writer, model string, now int64, lo, hi int) error {
	for i := lo; i < hi; i++ {
		k, err := makeKey(model, input(i))
		if err != nil {
			return err
		}
		if err := w.put(k, encodeValue(now, outputs(byte(i)))); err != nil {
			return err
		}
	}
	return w.evict(w.s.opts.MaxEntries)
}
