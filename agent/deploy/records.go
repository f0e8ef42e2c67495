package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/internal/boltfile"
)

var bucketCommands = []byte("commands")

// cmdRecord is a handled command, as remembered in commands.db.
type cmdRecord struct {
	Op     string    `json:"op"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
}

// openRecord opens one of the agent's small bbolt records (handled
// commands, canary rollouts) holding the one bucket named, starting afresh
// with a warning if the file is unreadable.
func openRecord(path string, bucket []byte, log *slog.Logger) (*bolt.DB, error) {
	check := func(tx *bolt.Tx) error {
		if tx.Bucket(bucket) == nil {
			return fmt.Errorf("no %s bucket", bucket)
		}
		return nil
	}
	db, moved, err := boltfile.OpenOrMoveAside(path, boltfile.Options{}, check)
	if moved != nil {
		log.Warn("record unreadable; moved aside, starting empty", "path", path, "aside", moved.Aside, "err", moved.Cause)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// openCommands opens the record of handled commands, starting afresh if
// the file is unreadable (the worst that costs is a status rewritten as
// rejected for a replayed manifest), and forgets old records.
func openCommands(path string, log *slog.Logger) (*bolt.DB, error) {
	db, err := openRecord(path, bucketCommands, log)
	if err != nil {
		return nil, fmt.Errorf("commands: %w", err)
	}
	cutoff := time.Now().Add(-keepCommands)
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCommands)
		var old [][]byte
		b.ForEach(func(k, v []byte) error {
			var r cmdRecord
			if json.Unmarshal(v, &r) != nil || r.Time.Before(cutoff) {
				old = append(old, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Warn("cannot prune the command record", "err", err)
	}
	return db, nil
}
