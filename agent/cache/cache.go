// Package cache is the result cache: it maps (model sha256, input bytes)
// to the model's output tensors, in one bbolt file that survives restarts.
//
// For quantized models the caller passes the input bytes after
// quantization, so two readings that quantize alike share an entry and
// the answer is bit-identical to a fresh run. Keys are the model's sha256
// (32 bytes) followed by the sha256 of the input bytes; a new model
// version has a new sha256, so its predecessor's entries simply age out.
//
// # Eviction
//
// The store keeps at most MaxEntries entries and evicts the least
// recently used. Recency lives in two buckets, "recency" (sequence number
// -> key, so the oldest is the first key) and "seq" (key -> its sequence
// number). A Put moves its key to the newest sequence number in its own
// write transaction. A hit does not: Get only reads, and remembers the
// key in memory; the remembered hits are written out by the next Put
// (which evicts, so it sees every hit before it chooses a victim) or once
// TouchBatch of them have piled up, or by Close. A hit on an entry that
// is already among the newest quarter is not remembered at all, so a hot
// working set costs no writes; eviction is then LRU to within a quarter
// of MaxEntries. The trade-off of deferring: a crash
// forgets the recency of the hits since the last write, so after a crash
// an entry that was hit but not written may be evicted a little early.
// Nothing is ever served wrong because of it.
//
// TTL, when set, counts from the Put; an expired entry is a miss and is
// deleted with the next write.
//
// # Corruption
//
// The cache is disposable, so Open never fails because of the file's
// content: a file bbolt rejects, one that makes it panic or fault, one
// whose structure fails bbolt's consistency check, or one of another
// format version is renamed to PATH.corrupt-TIMESTAMP, a warning is
// logged, and an empty cache is started. Values carry a CRC-32C, because
// bbolt checks only its meta pages: an entry whose bytes changed on disk
// is a miss, never a wrong answer.
package cache

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/boltfile"
)

// formatVersion is stored in the meta bucket; a file of another version
// is moved aside.
const formatVersion = 1

// Defaults for zero Options fields.
const (
	DefaultMaxEntries = 10000
	DefaultTimeout    = 5 * time.Second
	DefaultTouchBatch = 256
)

var (
	bucketMeta    = []byte("meta")
	bucketEntries = []byte("entries") // key -> value (see codec.go)
	bucketRecency = []byte("recency") // big-endian sequence number -> key
	bucketSeq     = []byte("seq")     // key -> big-endian sequence number
	keyFormat     = []byte("format")
)

// keyLen is a model sha256 followed by an input sha256.
const keyLen = 2 * sha256.Size

type key [keyLen]byte

// Options configure a Store. A nil *Options, and every zero field, means
// the default.
type Options struct {
	// MaxEntries is the most entries kept; 0 means DefaultMaxEntries.
	MaxEntries int
	// TTL is how long an entry is served after its Put; 0 means forever.
	TTL time.Duration
	// Now is the clock for TTL; nil means time.Now.
	Now func() time.Time
	// Log receives the warning when a corrupt file is moved aside and when
	// an entry fails its checksum; nil means slog.Default().
	Log *slog.Logger
	// Timeout is how long Open waits for the file lock held by another
	// process; 0 means DefaultTimeout. (bbolt waits forever on 0; a cache
	// is not worth hanging the daemon for.)
	Timeout time.Duration
	// TouchBatch is how many hits are remembered before they are written
	// out in one transaction; 0 means DefaultTouchBatch. See the package
	// documentation.
	TouchBatch int
	// NoSync skips fsync on commit: faster Puts, and a power cut may
	// corrupt the file (which Open then moves aside).
	NoSync bool
	// Registerer, when non-nil, gets the edged_cache_* metrics with
	// ConstLabels; Close unregisters them.
	Registerer  prometheus.Registerer
	ConstLabels prometheus.Labels
}

// Stats are counters since Open, and the number of entries.
type Stats struct {
	Entries   int
	Hits      uint64
	Misses    uint64 // includes expired and unreadable entries
	Evictions uint64 // least recently used entries removed for room
	Expired   uint64 // entries found past their TTL
}

// Store is an open cache file. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	log  *slog.Logger

	// wmu serialises write transactions and guards seq and count, which
	// mirror the file.
	wmu   sync.Mutex
	seq   atomic.Uint64 // last sequence number used (read by Get)
	count atomic.Int64

	// pmu guards the work Get leaves for the next write.
	pmu     sync.Mutex
	touches map[key]uint64   // hit key -> order of its last hit
	drops   map[key]struct{} // expired or unreadable keys
	tick    uint64

	hits, misses, evictions, expired atomic.Uint64
	collectors                       []prometheus.Collector
	closed                           atomic.Bool
}

// Open opens or creates the cache file at path. A file that cannot be
// read as a cache is moved aside and replaced by an empty one; Open fails
// only when the file cannot be opened, locked or created.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.TouchBatch <= 0 {
		o.TouchBatch = DefaultTouchBatch
	}
	s := &Store{path: path, opts: o, log: o.Log, touches: map[key]uint64{}, drops: map[key]struct{}{}}
	db, moved, err := boltfile.OpenOrMoveAside(path, boltfile.Options{Timeout: o.Timeout, NoSync: o.NoSync}, checkLayout)
	if moved != nil {
		o.Log.Warn("cache file unreadable; moved aside, starting empty", "path", path, "moved_to", moved.Aside, "err", moved.Cause)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the result cache %s: %w", path, err)
	}
	s.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketEntries, bucketRecency, bucketSeq} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyFormat) == nil {
			if err := meta.Put(keyFormat, []byte{formatVersion}); err != nil {
				return err
			}
		}
		s.count.Store(int64(tx.Bucket(bucketEntries).Stats().KeyN))
		if k, _ := tx.Bucket(bucketRecency).Cursor().Last(); len(k) == 8 {
			s.seq.Store(binary.BigEndian.Uint64(k))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the result cache %s: %w", path, err)
	}
	if o.Registerer != nil {
		if err := s.register(); err != nil {
			db.Close()
			return nil, fmt.Errorf("opening the result cache %s: %w", path, err)
		}
	}
	return s, nil
}

// checkLayout accepts a non-empty file only with the cache's buckets, its
// format version and one recency and sequence record per entry.
func checkLayout(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("no meta bucket: not a cache file")
	}
	if v := meta.Get(keyFormat); len(v) != 1 || v[0] != formatVersion {
		return fmt.Errorf("format version %v; want [%d]", v, formatVersion)
	}
	for _, name := range [][]byte{bucketEntries, bucketRecency, bucketSeq} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("no %s bucket", name)
		}
	}
	e, r, q := tx.Bucket(bucketEntries).Stats().KeyN, tx.Bucket(bucketRecency).Stats().KeyN, tx.Bucket(bucketSeq).Stats().KeyN
	if e != r || e != q {
		return fmt.Errorf("%d entries, %d recency records and %d sequence records; want equal counts", e, r, q)
	}
	return nil
}

// makeKey builds the key of (model, input). model is the model's sha256 in hex.
func makeKey(model string, input []byte) (key, error) {
	var k key
	if len(model) != 2*sha256.Size {
		return k, fmt.Errorf("model %q: want a sha256 in hex (64 digits)", model)
	}
	if _, err := hex.Decode(k[:sha256.Size], []byte(model)); err != nil {
		return k, fmt.Errorf("model %q: want a sha256 in hex: %w", model, err)
	}
	sum := sha256.Sum256(input)
	copy(k[sha256.Size:], sum[:])
	return k, nil
}

// Get returns the outputs cached for input on model (its sha256 in hex).
// A miss is (nil, false, nil); an error means the store could not be read.
func (s *Store) Get(model string, input []byte) (outs []infer.Tensor, ok bool, err error) {
	k, err := makeKey(model, input)
	if err != nil {
		return nil, false, fmt.Errorf("reading the result cache: %w", err)
	}
	var (
		found   bool
		created int64
		bad     error
		seq     uint64
	)
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEntries).Get(k[:])
		if v == nil {
			return nil
		}
		found = true
		if created, bad = valueCreated(v); bad != nil || s.isExpired(created) {
			return nil
		}
		outs, bad = decodeValue(v)
		if sk := tx.Bucket(bucketSeq).Get(k[:]); len(sk) == 8 {
			seq = binary.BigEndian.Uint64(sk)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("reading the result cache: %w", err)
	}
	switch {
	case !found:
		s.misses.Add(1)
		return nil, false, nil
	case bad != nil:
		s.log.Warn("cache entry unreadable; dropping it", "path", s.path, "model", model, "err", bad)
		s.misses.Add(1)
		s.later(k, false)
		return nil, false, nil
	case s.isExpired(created):
		s.misses.Add(1)
		s.expired.Add(1)
		s.later(k, false)
		return nil, false, nil
	}
	s.hits.Add(1)
	// An entry among the newest quarter is far from eviction: moving it
	// to the front would cost a page write and change no decision soon.
	if seq+uint64(s.opts.MaxEntries/4) <= s.seq.Load() {
		s.later(k, true)
	}
	return outs, true, nil
}

func (s *Store) isExpired(created int64) bool {
	return s.opts.TTL > 0 && s.opts.Now().Sub(time.Unix(0, created)) >= s.opts.TTL
}

// later remembers a hit (touch) or a key to delete for the next write,
// and writes them out when TouchBatch have piled up.
func (s *Store) later(k key, touch bool) {
	s.pmu.Lock()
	if touch {
		s.tick++
		s.touches[k] = s.tick
	} else {
		s.drops[k] = struct{}{}
	}
	full := len(s.touches)+len(s.drops) >= s.opts.TouchBatch
	s.pmu.Unlock()
	if full {
		if err := s.flush(); err != nil {
			s.log.Warn("cache: writing recency", "path", s.path, "err", err)
		}
	}
}

// flush writes the remembered hits and deletions, if any.
func (s *Store) flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.pmu.Lock()
	n := len(s.touches) + len(s.drops)
	s.pmu.Unlock()
	if n == 0 {
		return nil
	}
	return s.update(func(w *writer) error { return nil })
}

// Put stores outs as the result of input on model (its sha256 in hex),
// replacing any entry for the same input, and evicts the least recently
// used entries beyond MaxEntries.
func (s *Store) Put(model string, input []byte, outs []infer.Tensor) error {
	k, err := makeKey(model, input)
	if err != nil {
		return fmt.Errorf("storing a result in the cache: %w", err)
	}
	v := encodeValue(s.opts.Now().UnixNano(), outs)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err = s.update(func(w *writer) error {
		if err := w.put(k, v); err != nil {
			return err
		}
		return w.evict(s.opts.MaxEntries)
	})
	if err != nil {
		return fmt.Errorf("storing a result in the cache: %w", err)
	}
	return nil
}

// writer is the state of one write transaction; seq and count are copied
// back to the Store only when it commits.
type writer struct {
	s       *Store
	tx      *bolt.Tx
	entries *bolt.Bucket
	recency *bolt.Bucket
	seqs    *bolt.Bucket
	seq     uint64
	count   int64
	evicted uint64
}

// update runs fn in a write transaction after the remembered hits and
// deletions. The caller holds wmu.
func (s *Store) update(fn func(w *writer) error) error {
	s.pmu.Lock()
	touches, drops := s.touches, s.drops
	s.touches, s.drops = map[key]uint64{}, map[key]struct{}{}
	s.pmu.Unlock()
	var w *writer
	err := s.db.Update(func(tx *bolt.Tx) error {
		w = &writer{s: s, tx: tx, entries: tx.Bucket(bucketEntries), recency: tx.Bucket(bucketRecency), seqs: tx.Bucket(bucketSeq),
			seq: s.seq.Load(), count: s.count.Load()}
		// Sequence numbers only ever grow: full pages, as for an append-only log.
		w.recency.FillPercent = 1
		for k := range drops {
			if err := w.dropIfStale(k); err != nil {
				return err
			}
		}
		order := make([]key, 0, len(touches))
		for k := range touches {
			order = append(order, k)
		}
		slices.SortFunc(order, func(a, b key) int { return cmp.Compare(touches[a], touches[b]) })
		for _, k := range order {
			if w.entries.Get(k[:]) == nil {
				continue // evicted or dropped since the hit
			}
			if err := w.touch(k); err != nil {
				return err
			}
		}
		return fn(w)
	})
	if err != nil {
		return err
	}
	s.seq.Store(w.seq)
	s.count.Store(w.count)
	s.evictions.Add(w.evicted)
	return nil
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// touch gives k the newest sequence number.
func (w *writer) touch(k key) error {
	if old := w.seqs.Get(k[:]); old != nil {
		if err := w.recency.Delete(old); err != nil {
			return err
		}
	}
	w.seq++
	sk := seqKey(w.seq)
	if err := w.recency.Put(sk, k[:]); err != nil {
		return err
	}
	return w.seqs.Put(k[:], sk)
}

func (w *writer) put(k key, v []byte) error {
	if w.entries.Get(k[:]) == nil {
		w.count++
	}
	if err := w.entries.Put(k[:], v); err != nil {
		return err
	}
	return w.touch(k)
}

// remove deletes k and its recency records.
func (w *writer) remove(k []byte) error {
	if sk := w.seqs.Get(k); sk != nil {
		if err := w.recency.Delete(sk); err != nil {
			return err
		}
		if err := w.seqs.Delete(k); err != nil {
			return err
		}
	}
	if w.entries.Get(k) != nil {
		w.count--
		return w.entries.Delete(k)
	}
	return nil
}

// dropIfStale removes k if it is still expired or unreadable (a Put may
// have replaced it since Get looked).
func (w *writer) dropIfStale(k key) error {
	v := w.entries.Get(k[:])
	if v == nil {
		return nil
	}
	created, err := valueCreated(v)
	if err == nil && !w.s.isExpired(created) {
		if _, err = decodeValue(v); err == nil {
			return nil
		}
	}
	return w.remove(k[:])
}

// evict removes the least recently used entries beyond max.
func (w *writer) evict(max int) error {
	n := w.count - int64(max)
	if n <= 0 {
		return nil
	}
	victims := make([][]byte, 0, n)
	c := w.recency.Cursor()
	for sk, k := c.First(); sk != nil && int64(len(victims)) < n; sk, k = c.Next() {
		victims = append(victims, bytes.Clone(k))
	}
	for _, k := range victims {
		if err := w.remove(k); err != nil {
			return err
		}
		w.evicted++
	}
	return nil
}

// Stats returns the counters since Open and the number of entries.
func (s *Store) Stats() Stats {
	return Stats{
		Entries: int(s.count.Load()), Hits: s.hits.Load(), Misses: s.misses.Load(),
		Evictions: s.evictions.Load(), Expired: s.expired.Load(),
	}
}

// Close writes the remembered hits and closes the file. Calls after the
// first return nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.flush()
	for _, c := range s.collectors {
		s.opts.Registerer.Unregister(c)
	}
	s.collectors = nil
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("closing the result cache %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) register() error {
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: s.opts.ConstLabels},
			func() float64 { return float64(v.Load()) })
	}
	cs := []prometheus.Collector{
		counter("edged_cache_hits_total", "Result cache hits.", &s.hits),
		counter("edged_cache_misses_total", "Result cache misses, including expired and unreadable entries.", &s.misses),
		counter("edged_cache_evictions_total", "Least recently used entries evicted for room.", &s.evictions),
		counter("edged_cache_expired_total", "Entries found past their TTL.", &s.expired),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edged_cache_entries", Help: "Entries in the result cache.", ConstLabels: s.opts.ConstLabels},
			func() float64 { return float64(s.count.Load()) }),
	}
	for _, c := range cs {
		if err := s.opts.Registerer.Register(c); err != nil {
			for _, r := range s.collectors {
				s.opts.Registerer.Unregister(r)
			}
			s.collectors = nil
			return fmt.Errorf("metrics: %w", err)
		}
		s.collectors = append(s.collectors, c)
	}
	return nil
}
