package cache

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

const benchEntries = 100_000

func benchStore(b *testing.B, o *Options) *Store {
	b.Helper()
	s := open(b, filepath.Join(b.TempDir(), "cache.db"), o)
	b.Cleanup(func() { s.Close() })
	fill(b, s, modelA, benchEntries)
	return s
}

// BenchmarkGet is a hit on a store of 100 000 entries: "hot" cycles
// through 1 000 keys, which stay among the newest and cost no recency
// writes; "cold" cycles through all of them, so every hit is on an old
// entry and its recency is written (TouchBatch at a time, with fsync).
func BenchmarkGet(b *testing.B) {
	for _, bc := range []struct {
		name string
		keys int
	}{{"hot", 1000}, {"cold", benchEntries}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStore(b, &Options{MaxEntries: benchEntries})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, ok, err := s.Get(modelA, input(i%bc.keys)); !ok || err != nil {
					b.Fatalf("Get(%d) = %t, %v; want a hit", i%bc.keys, ok, err)
				}
			}
		})
	}
}

// BenchmarkPut adds new entries to a full store of 100 000 entries, so
// each Put also evicts one; with fsync (the default) and without.
func BenchmarkPut(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"sync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStore(b, &Options{MaxEntries: benchEntries, NoSync: bc.noSync})
			out := outputs(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := s.Put(modelA, input(benchEntries+i), out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetLatency times every hit on a store of 100 000 entries drawn
// uniformly from all of them, and reports the p50 and p99 of a single Get
// (recency writes included) besides the mean.
func BenchmarkGetLatency(b *testing.B) {
	s := benchStore(b, &Options{MaxEntries: benchEntries})
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := int(uint32(i) * 2654435761 % benchEntries)
		t0 := time.Now()
		_, ok, err := s.Get(modelA, input(k))
		lat = append(lat, time.Since(t0))
		if !ok || err != nil {
			b.Fatalf("Get(%d) = %t, %v; want a hit", k, ok, err)
		}
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkMiss looks up keys that are not in a store of 100 000 entries.
func BenchmarkMiss(b *testing.B) {
	s := benchStore(b, &Options{MaxEntries: benchEntries})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := s.Get(modelA, input(benchEntries+i)); ok || err != nil {
			b.Fatalf("Get(new %d) = %t, %v; want a miss", i, ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "misses/s")
}
