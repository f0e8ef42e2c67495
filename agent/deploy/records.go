package deploy

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/internal/boltfile"
	"github.com/edged-dev/edged/ota/cmdlog"
)

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

// openCommands opens the record of handled commands (ota/cmdlog), which
// replaced the commands.db of earlier versions: that file, keyed by
// command id alone and unbounded, is removed. A damaged record starts
// afresh: commands are scoped to versions, so one run again changes
// nothing.
func openCommands(dir string, log *slog.Logger) (*cmdlog.Log, error) {
	if err := os.Remove(filepath.Join(dir, "commands.db")); err == nil {
		log.Info("replaced the command record of an earlier version", "path", filepath.Join(dir, "commands.db"))
	}
	l, err := cmdlog.Open(filepath.Join(dir, commandsFile), &cmdlog.Options{Log: log})
	if err != nil {
		return nil, fmt.Errorf("commands: %w", err)
	}
	return l, nil
}

// commandsFile is the record of handled commands in the store directory.
const commandsFile = "cmdlog.db"
