package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/internal/boltfile"
)

// Kind is the kind of a message; it decides what is dropped first when
// the outbox is full: Telemetry, then Drift, then Event.
type Kind uint8

// The kinds, in the order they are dropped.
const (
	Telemetry Kind = iota + 1
	Drift
	Event
)

const numKinds = 3

func (k Kind) String() string {
	switch k {
	case Telemetry:
		return "telemetry"
	case Drift:
		return "drift"
	case Event:
		return "event"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= Telemetry && k <= Event }

// Defaults of Options.
const (
	DefaultMaxBytes   = 4 << 20
	DefaultMaxMessage = 256 << 10
	DefaultBatch      = 64
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	DefaultTimeout    = time.Second
)

// Overhead is what each message counts for against MaxBytes beyond its
// topic and payload: its keys and header in the file.
const Overhead = 32

// Options configures an Outbox; a nil *Options or a zero field means the
// default.
type Options struct {
	// MaxBytes bounds the stored messages, each counted as len(topic) +
	// len(payload) + Overhead. Default 4 MiB.
	MaxBytes int64
	// MaxMessage bounds one payload in bytes; default 256 KiB.
	MaxMessage int
	// Batch is how many messages Deliver reads in one transaction and
	// removes in one transaction once they are acknowledged; default 64.
	Batch int
	// MinBackoff and MaxBackoff bound the exponential backoff of Deliver
	// after a failed publish; defaults 500ms and 30s. Kick cuts a backoff
	// short.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Timeout bounds the wait for the file's lock; default 1s.
	Timeout time.Duration
	// NoSync skips fsync after each write: faster, but a power loss may
	// lose the last messages. For tests.
	NoSync bool
	// Now is the clock that seeds the sequence of a new file; default
	// time.Now.
	Now func() time.Time
	// Log receives corruption, outage and drop reports; default
	// slog.Default().
	Log *slog.Logger
}

// Errors of Append.
var (
	// ErrFull: the outbox is full of messages at least as important as
	// this one, so this one was dropped (and counted).
	ErrFull = errors.New("outbox full of more important messages; message dropped")
	// ErrTooLarge: the message is larger than MaxMessage, or alone larger
	// than MaxBytes.
	ErrTooLarge = errors.New("message too large")
	// ErrClosed: the outbox has been closed.
	ErrClosed = errors.New("outbox closed")
)

// Stats counts what an Outbox has done since Open.
type Stats struct {
	Pending       int    // messages stored
	Bytes         int64  // their size as counted against MaxBytes
	Appended      uint64 // messages accepted by Append
	Delivered     uint64 // messages acknowledged and removed
	PublishErrors uint64 // failed publish attempts
	// Dropped counts the messages dropped for room, by kind (including
	// those refused with ErrFull).
	Dropped map[Kind]uint64
}

// Outbox is an open outbox file. Append, Pending, Stats and Kick are safe
// for concurrent use with each other and with one Deliver.
type Outbox struct {
	db   *bolt.DB
	path string
	o    Options
	log  *slog.Logger

	// mu serialises write transactions and guards bytes and next, which
	// mirror the file.
	mu    sync.Mutex
	bytes int64
	next  uint64 // the sequence number of the next message

	pending                          atomic.Int64
	appended, delivered, publishErrs atomic.Uint64
	dropped                          [numKinds + 1]atomic.Uint64
	wake                             chan struct{} // a message was appended
	kick                             chan struct{} // retry now
	delivering                       atomic.Bool
	closed                           atomic.Bool
}

var (
	bucketMeta  = []byte("meta")
	bucketMsgs  = []byte("msgs")  // seq -> kind, topic, payload
	bucketKinds = []byte("kinds") // kind, seq -> nothing: the messages of each kind in order
	keyFormat   = []byte("format")
	keyNext     = []byte("next")
)

const formatVersion = 1

// Open opens or creates the outbox file at path. A file that cannot be
// read as an outbox is moved aside (path.corrupt-TIME) and replaced by an
// empty one, with a warning in the log; Open fails only when the file
// cannot be opened, locked or created.
func Open(path string, opts *Options) (*Outbox, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := &Outbox{path: path, o: o, log: o.Log, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
	db, moved, err := boltfile.OpenOrMoveAside(path, boltfile.Options{Timeout: o.Timeout, NoSync: o.NoSync}, checkLayout)
	if moved != nil {
		o.Log.Warn("outbox file unreadable; moved aside, starting empty: its messages are not sent", "path", path, "moved_to", moved.Aside, "err", moved.Cause)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the outbox %s: %w", path, err)
	}
	b.db = db
	if err := db.Update(b.load); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the outbox %s: %w", path, err)
	}
	return b, nil
}

// load creates the buckets of a new file and reads the state of an old one.
func (b *Outbox) load(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketMsgs, bucketKinds} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyFormat) == nil {
		if err := meta.Put(keyFormat, []byte{formatVersion}); err != nil {
			return err
		}
		// See "Sequence numbers" in the package doc.
		seed := uint64(max(1, b.o.Now().UnixMicro()))
		if err := meta.Put(keyNext, binary.BigEndian.AppendUint64(nil, seed)); err != nil {
			return err
		}
	}
	b.next = binary.BigEndian.Uint64(meta.Get(keyNext))
	n := 0
	err := tx.Bucket(bucketMsgs).ForEach(func(k, v []byte) error {
		_, topic, payload, err := decodeEntry(v)
		if err != nil {
			return err
		}
		b.bytes += entrySize(topic, payload)
		n++
		return nil
	})
	b.pending.Store(int64(n))
	return err
}

// checkLayout accepts a non-empty file only with the outbox's buckets and
// format, every message decodable, below the next sequence number and in
// the per-kind index, and no index record without its message.
func checkLayout(tx *bolt.Tx) error {
	meta, msgs, kinds := tx.Bucket(bucketMeta), tx.Bucket(bucketMsgs), tx.Bucket(bucketKinds)
	if meta == nil || msgs == nil || kinds == nil {
		return errors.New("missing buckets: not an outbox file")
	}
	if v := meta.Get(keyFormat); len(v) != 1 || v[0] != formatVersion {
		return fmt.Errorf("format version %v; want [%d]", v, formatVersion)
	}
	next := meta.Get(keyNext)
	if len(next) != 8 {
		return fmt.Errorf("next sequence number of %d bytes; want 8", len(next))
	}
	count := 0
	err := msgs.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("message key of %d bytes; want 8", len(k))
		}
		seq := binary.BigEndian.Uint64(k)
		if seq >= binary.BigEndian.Uint64(next) {
			return fmt.Errorf("message %d at or above the next sequence number %d", seq, binary.BigEndian.Uint64(next))
		}
		kind, _, _, err := decodeEntry(v)
		if err != nil {
			return fmt.Errorf("message %d: %w", seq, err)
		}
		if kinds.Get(kindKey(kind, seq)) == nil {
			return fmt.Errorf("message %d missing from the %s index", seq, kind)
		}
		count++
		return nil
	})
	if err != nil {
		return err
	}
	if in := kinds.Stats().KeyN; in != count {
		return fmt.Errorf("%d messages but %d index records", count, in)
	}
	return nil
}

// Pending returns the number of messages stored.
func (b *Outbox) Pending() int { return int(b.pending.Load()) }

// Stats returns the counters since Open.
func (b *Outbox) Stats() Stats {
	b.mu.Lock()
	bytes := b.bytes
	b.mu.Unlock()
	s := Stats{Pending: b.Pending(), Bytes: bytes, Appended: b.appended.Load(), Delivered: b.delivered.Load(),
		PublishErrors: b.publishErrs.Load(), Dropped: map[Kind]uint64{}}
	for k := Telemetry; k <= Event; k++ {
		s.Dropped[k] = b.dropped[k].Load()
	}
	return s
}

// Close closes the file; stop Deliver first. Calls after the first
// return nil.
func (b *Outbox) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("closing the outbox %s: %w", b.path, err)
	}
	return nil
}
