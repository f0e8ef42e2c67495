// Package cmdlog remembers the operator commands a device acted on, so
// that a retained command delivered again after a reconnect or a restart
// gets its recorded outcome instead of running twice, and a signed
// command's nonce is refused if it comes back in another form.
//
// Only verified commands belong here: a record is what the device did
// about a command whose signature and expiry it checked (a signed operator
// command, or a deploy whose manifest verified). Garbage with a fresh id
// is never recorded, so it can neither fill the file nor pre-empt the
// genuine command that later uses the same id.
//
// Records are keyed by op, command id and the sha256 of the payload as
// delivered: another payload under a known id is another command. Each
// record carries the expiry of the signed content; it is dropped after it,
// when the command can no longer verify anyway. The file holds at most
// Options.MaxRecords records, the oldest dropped first, each bounded in
// size, so the file is bounded too: under 4 MiB with the default bound
// and the largest records. Losing the file costs only the memory
// of unexpired commands, and operator commands are scoped to versions, so
// running one again changes nothing.
package cmdlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/internal/boltfile"
)

// Defaults and bounds.
const (
	// DefaultMaxRecords is Options.MaxRecords when 0: a device handles a
	// few commands a day.
	DefaultMaxRecords = 1024
	// MaxReason bounds the reason kept in a record, in bytes.
	MaxReason = 256
	maxIDLen  = 128
)

var (
	bucketRecords = []byte("records") // key -> record
	bucketOrder   = []byte("order")   // seq -> key
	bucketNonces  = []byte("nonces")  // nonce -> key
)

// Record is what a device did about a verified command.
type Record struct {
	Op   string `json:"op"`
	ID   string `json:"id"`
	Hash string `json:"hash"` // Hash of the payload as delivered
	// Nonce is the signed command's nonce; empty for a deploy, whose
	// manifest version guards against replay.
	Nonce  string    `json:"nonce,omitempty"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
	// Expires is when the signed content stops being valid; the record is
	// dropped then.
	Expires time.Time `json:"expires"`

	Seq uint64 `json:"seq"` // order of recording, set by Put
}

// Hash returns the sha256, in hex, of a command's payload.
func Hash(payload []byte) string {
	s := sha256.Sum256(payload)
	return hex.EncodeToString(s[:])
}

// Options configure a Log; nil means defaults.
type Options struct {
	// MaxRecords bounds the records kept; default DefaultMaxRecords.
	MaxRecords int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log hears about a damaged file moved aside; default slog.Default().
	Log *slog.Logger
	// NoSync skips fsync on commit (tests).
	NoSync bool
}

// Log is an open command record. Its methods are safe for concurrent use.
type Log struct {
	db  *bolt.DB
	max int
	now func() time.Time
}

// Open opens (or creates) the record at path and drops expired records. A
// damaged file is moved aside with a warning and the record starts empty.
func Open(path string, opts *Options) (*Log, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	db, moved, err := boltfile.OpenOrMoveAside(path, boltfile.Options{NoSync: o.NoSync}, checkLayout)
	if moved != nil {
		o.Log.Warn("command record unreadable; moved aside, starting empty", "path", path, "aside", moved.Aside, "err", moved.Cause)
	}
	if err != nil {
		return nil, fmt.Errorf("command record %s: %w", path, err)
	}
	l := &Log{db: db, max: o.MaxRecords, now: o.Now}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketOrder, bucketNonces} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return l.prune(tx, true)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("command record %s: %w", path, err)
	}
	return l, nil
}

// checkLayout accepts only this package's buckets.
func checkLayout(tx *bolt.Tx) error {
	return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		switch string(name) {
		case string(bucketRecords), string(bucketOrder), string(bucketNonces):
			return nil
		}
		return fmt.Errorf("bucket %q: not a command record", name)
	})
}

// Close closes the file.
func (l *Log) Close() error { return l.db.Close() }

// key is the record's key: a digest of op, id and payload hash, so that
// the indexes hold 32 bytes per record whatever the ids' lengths.
func key(op, id, hash string) []byte {
	k := sha256.Sum256([]byte(op + "\x00" + id + "\x00" + hash))
	return k[:]
}

// Lookup returns the record of the command with this op, id and payload,
// if there is one that has not expired.
func (l *Log) Lookup(op, id string, payload []byte) (Record, bool) {
	var r Record
	var ok bool
	now := l.now()
	l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get(key(op, id, Hash(payload)))
		ok = v != nil && json.Unmarshal(v, &r) == nil && now.Before(r.Expires)
		return nil
	})
	if !ok {
		return Record{}, false
	}
	return r, true
}

// SeenNonce reports whether a command with this nonce was recorded and
// has not expired: sign.CommandVerifyOptions.Seen.
func (l *Log) SeenNonce(nonce string) bool {
	if nonce == "" {
		return false
	}
	var seen bool
	now := l.now()
	l.db.View(func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketNonces).Get([]byte(nonce))
		if k == nil {
			return nil
		}
		var r Record
		v := tx.Bucket(bucketRecords).Get(k)
		seen = v != nil && json.Unmarshal(v, &r) == nil && now.Before(r.Expires)
		return nil
	})
	return seen
}

// Put records r, replacing the record of the same command (a failed one
// tried again), then drops expired records and the oldest beyond
// MaxRecords. r.Time is set to now when zero; the reason is clipped to
// MaxReason bytes.
func (l *Log) Put(r Record) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("command record: %w", err)
	}
	if r.Time.IsZero() {
		r.Time = l.now().UTC()
	}
	if len(r.Reason) > MaxReason {
		r.Reason = r.Reason[:MaxReason]
	}
	k := key(r.Op, r.ID, r.Hash)
	err := l.db.Update(func(tx *bolt.Tx) error {
		recs, order := tx.Bucket(bucketRecords), tx.Bucket(bucketOrder)
		if v := recs.Get(k); v != nil {
			if err := l.delete(tx, k, v); err != nil {
				return err
			}
		}
		seq, err := order.NextSequence()
		if err != nil {
			return err
		}
		r.Seq = seq
		v, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		if err := recs.Put(k, v); err != nil {
			return err
		}
		if err := order.Put(binary.BigEndian.AppendUint64(nil, seq), k); err != nil {
			return err
		}
		if r.Nonce != "" {
			if err := tx.Bucket(bucketNonces).Put([]byte(r.Nonce), k); err != nil {
				return err
			}
		}
		return l.prune(tx, false)
	})
	if err != nil {
		return fmt.Errorf("command record: %s %s: %w", r.Op, r.ID, err)
	}
	return nil
}

func (r *Record) check() error {
	for _, f := range []struct{ name, v string }{{"op", r.Op}, {"id", r.ID}} {
		if f.v == "" || len(f.v) > maxIDLen || strings.ContainsAny(f.v, "/") {
			return fmt.Errorf("%s %q: want 1 to %d characters without '/'", f.name, f.v, maxIDLen)
		}
	}
	switch {
	case len(r.Hash) != 64 || strings.Trim(r.Hash, "0123456789abcdef") != "":
		return fmt.Errorf("hash %q: want the sha256 of the payload in lower-case hex", r.Hash)
	case len(r.Nonce) > 64:
		return fmt.Errorf("nonce of %d bytes; want at most 64", len(r.Nonce))
	case r.State == "" || len(r.State) > maxIDLen:
		return fmt.Errorf("state %q: want 1 to %d characters", r.State, maxIDLen)
	case r.Expires.IsZero():
		return errors.New("no expiry: only commands whose signed content expires are recorded")
	}
	return nil
}

// delete removes the record k (whose value is v) and its index entries.
func (l *Log) delete(tx *bolt.Tx, k, v []byte) error {
	var old Record
	if json.Unmarshal(v, &old) == nil {
		if err := tx.Bucket(bucketOrder).Delete(binary.BigEndian.AppendUint64(nil, old.Seq)); err != nil {
			return err
		}
		nonces := tx.Bucket(bucketNonces)
		if old.Nonce != "" && bytes.Equal(nonces.Get([]byte(old.Nonce)), k) {
			if err := nonces.Delete([]byte(old.Nonce)); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bucketRecords).Delete(k)
}

// prune drops the oldest records beyond the bound and, when full (at
// Open), expired and unreadable records and index entries that point
// nowhere. Lookups ignore expired records in between.
func (l *Log) prune(tx *bolt.Tx, full bool) error {
	recs, order, nonces := tx.Bucket(bucketRecords), tx.Bucket(bucketOrder), tx.Bucket(bucketNonces)
	if !full {
		return l.dropOldest(tx)
	}
	now := l.now()
	var dead [][]byte
	recs.ForEach(func(k, v []byte) error {
		var r Record
		if json.Unmarshal(v, &r) != nil || !now.Before(r.Expires) || !bytes.Equal(order.Get(binary.BigEndian.AppendUint64(nil, r.Seq)), k) {
			dead = append(dead, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range dead {
		if err := l.delete(tx, k, recs.Get(k)); err != nil {
			return err
		}
	}
	for _, b := range []*bolt.Bucket{order, nonces} {
		var stale [][]byte
		b.ForEach(func(k, v []byte) error {
			if recs.Get(v) == nil {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return l.dropOldest(tx)
}

// dropOldest drops the oldest records beyond the bound.
func (l *Log) dropOldest(tx *bolt.Tx) error {
	recs, order := tx.Bucket(bucketRecords), tx.Bucket(bucketOrder)
	for n := count(order); n > l.max; n-- {
		k, v := order.Cursor().First()
		if k == nil {
			break
		}
		if err := l.delete(tx, v, recs.Get(v)); err != nil {
			return err
		}
		if err := order.Delete(k); err != nil { // in case the record was unreadable
			return err
		}
	}
	return nil
}

// Len returns the number of records kept.
func (l *Log) Len() int {
	var n int
	l.db.View(func(tx *bolt.Tx) error {
		n = count(tx.Bucket(bucketRecords))
		return nil
	})
	return n
}

func count(b *bolt.Bucket) int {
	n := 0
	b.ForEach(func(_, _ []byte) error { n++; return nil })
	return n
}
