package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Append stores a message for topic and returns its sequence number once
// it is in the file. payload must be a JSON object without a top-level
// "seq" (see Envelope in the package doc). If the outbox is full, older
// messages of the same or a less important kind are dropped to make room
// (see Guarantee); if that is not enough the message itself is dropped
// and Append returns ErrFull.
func (b *Outbox) Append(kind Kind, topic string, payload []byte) (uint64, error) {
	if err := b.check(kind, topic, payload); err != nil {
		return 0, fmt.Errorf("queueing %s %s: %w", kind, topic, err)
	}
	size := entrySize(topic, payload)
	v := encodeEntry(kind, topic, payload)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return 0, fmt.Errorf("queueing %s %s: %w", kind, topic, ErrClosed)
	}
	var (
		seq     = b.next
		dropped [numKinds + 1]int
		freed   int64
	)
	err := b.db.Update(func(tx *bolt.Tx) error {
		msgs, kinds := tx.Bucket(bucketMsgs), tx.Bucket(bucketKinds)
		// Sequence numbers only grow: full pages, as for an append-only log.
		msgs.FillPercent = 1
		for k := Telemetry; k <= kind && b.bytes-freed+size > b.o.MaxBytes; k++ {
			n, f, err := dropOldest(msgs, kinds, k, b.bytes-freed+size-b.o.MaxBytes)
			if err != nil {
				return err
			}
			dropped[k] += n
			freed += f
		}
		if b.bytes-freed+size > b.o.MaxBytes {
			return ErrFull // rolls back the drops above
		}
		if err := msgs.Put(seqKey(seq), v); err != nil {
			return err
		}
		if err := kinds.Put(kindKey(kind, seq), nil); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyNext, seqKey(seq+1))
	})
	if errors.Is(err, ErrFull) {
		b.dropped[kind].Add(1)
		b.log.Warn("outbox full; message dropped", "path", b.path, "kind", kind, "topic", topic, "max_bytes", b.o.MaxBytes)
		return 0, fmt.Errorf("queueing %s %s: %w", kind, topic, ErrFull)
	}
	if err != nil {
		return 0, fmt.Errorf("queueing %s %s: %w", kind, topic, err)
	}
	b.next = seq + 1
	b.bytes += size - freed
	total := 1
	for k, n := range dropped {
		if n > 0 {
			b.dropped[k].Add(uint64(n))
			total -= n
			b.log.Warn("outbox full; oldest messages dropped", "path", b.path, "kind", Kind(k), "dropped", n, "for", kind)
		}
	}
	b.pending.Add(int64(total))
	b.appended.Add(1)
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return seq, nil
}

func (b *Outbox) check(kind Kind, topic string, payload []byte) error {
	if !kind.valid() {
		return fmt.Errorf("kind %d; want Telemetry, Drift or Event", uint8(kind))
	}
	if topic == "" || len(topic) > 1024 || strings.ContainsAny(topic, "+#\x00") {
		return fmt.Errorf("topic %q: want a topic name of 1..1024 bytes without wildcards", topic)
	}
	if len(payload) > b.o.MaxMessage || entrySize(topic, payload) > b.o.MaxBytes {
		return fmt.Errorf("%w: %d bytes; want at most %d (and the whole outbox holds %d)", ErrTooLarge, len(payload), b.o.MaxMessage, b.o.MaxBytes)
	}
	return checkPayload(payload)
}

// dropOldest removes the oldest messages of kind k until at least need
// bytes are freed or none is left, and returns how many and how much.
func dropOldest(msgs, kinds *bolt.Bucket, k Kind, need int64) (n int, freed int64, err error) {
	prefix := []byte{byte(k)}
	var victims [][]byte
	c := kinds.Cursor()
	for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix) && freed < need; key, _ = c.Next() {
		sk := key[1:]
		v := msgs.Get(sk)
		if v == nil {
			return 0, 0, fmt.Errorf("index names message %x, which is missing", sk)
		}
		_, topic, payload, err := decodeEntry(v)
		if err != nil {
			return 0, 0, err
		}
		freed += entrySize(topic, payload)
		victims = append(victims, bytes.Clone(key))
	}
	for _, key := range victims {
		if err := kinds.Delete(key); err != nil {
			return 0, 0, err
		}
		if err := msgs.Delete(key[1:]); err != nil {
			return 0, 0, err
		}
	}
	return len(victims), freed, nil
}
