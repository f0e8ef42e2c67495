package store

// Anti-rollback state that survives damage.
//
// The highest version ever accepted per model (LastVersion) is what keeps
// a device from installing an older signed manifest again. state.db holds
// it, and so does a second, small file, versions.json, with its own
// checksum, rewritten after every change: a torn, corrupt or deleted
// state.db never lowers it. The file also names each model's active and
// previous versions, so that a device whose state.db is lost goes on
// serving what it served. When both are lost, the version directories
// give a floor: the directory of a version rolled back, replaced or
// dropped is kept, empty (retire).

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/internal/atomicfile"
	"github.com/edged-dev/edged/ota/sign"
)

// mirrorFile is the redundant copy of the versions, beside state.db.
const mirrorFile = "versions.json"

// maxMirrorSize bounds what readMirror reads.
const maxMirrorSize = 1 << 20

// Meta keys: the floor of LastVersion per model ("last/NAME") and the
// highest agent version accepted.
const floorPrefix = "last/"

var keyAgent = []byte("agent")

// mirror is the content of versions.json.
type mirror struct {
	V      int                    `json:"v"` // 1
	Agent  uint64                 `json:"agent,omitempty"`
	Models map[string]mirrorModel `json:"models,omitempty"`
	// Sum is the sha256 (hex) of the file's JSON with Sum empty.
	Sum string `json:"sum"`
}

type mirrorModel struct {
	Last     uint64    `json:"last"`
	Active   uint64    `json:"active,omitempty"`
	Previous uint64    `json:"previous,omitempty"`
	Changed  time.Time `json:"changed,omitzero"`
	Good     bool      `json:"good,omitempty"`
}

func (m *mirror) sum() (string, error) {
	c := *m
	c.Sum = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// readMirror reads versions.json; a missing file is an empty mirror.
// A damaged one is an error.
func readMirror(path string) (*mirror, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &mirror{V: 1}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) > maxMirrorSize {
		return nil, fmt.Errorf("%d bytes; want at most %d", len(data), maxMirrorSize)
	}
	var m mirror
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	sum, err := m.sum()
	if err != nil {
		return nil, err
	}
	switch {
	case m.Sum != sum:
		return nil, errors.New("checksum mismatch")
	case m.V != 1:
		return nil, fmt.Errorf("format v%d; want 1", m.V)
	case m.Agent > sign.MaxVersion:
		return nil, fmt.Errorf("agent version %d above %d", m.Agent, uint64(sign.MaxVersion))
	}
	for name, mm := range m.Models {
		if err := checkName("model name", name); err != nil {
			return nil, err
		}
		if mm.Last > sign.MaxVersion || mm.Active > mm.Last || mm.Previous > mm.Last {
			return nil, fmt.Errorf("model %s: versions %+v out of range", name, mm)
		}
	}
	return &m, nil
}

// writeMirror rewrites versions.json from state.db. It runs after every
// change, under mirrorMu so that an older snapshot never overwrites a
// newer one; a failure is logged, state.db still holds the change.
func (s *Store) writeMirror() {
	s.mirrorMu.Lock()
	defer s.mirrorMu.Unlock()
	if err := s.writeMirrorLocked(); err != nil {
		s.o.Log.Warn("store: cannot write the copy of the accepted versions; state.db alone holds them", "path", filepath.Join(s.dir, mirrorFile), "err", err)
	}
}

func (s *Store) writeMirrorLocked() error {
	m := mirror{V: 1, Models: map[string]mirrorModel{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		m.Agent = getUint(meta.Get(keyAgent))
		c := meta.Cursor()
		for k, v := c.Seek([]byte(floorPrefix)); k != nil && strings.HasPrefix(string(k), floorPrefix); k, v = c.Next() {
			name := strings.TrimPrefix(string(k), floorPrefix)
			if checkName("model name", name) == nil {
				m.Models[name] = mirrorModel{Last: getUint(v)}
			}
		}
		return tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
			var rec Model
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("model %s: %w", k, err)
			}
			mm := m.Models[rec.Name]
			mm.Last = max(mm.Last, rec.LastVersion, rec.Active, rec.Previous)
			mm.Active, mm.Previous, mm.Changed, mm.Good = rec.Active, rec.Previous, rec.Changed, rec.Good
			m.Models[rec.Name] = mm
			return nil
		})
	})
	if err != nil {
		return err
	}
	if m.Sum, err = m.sum(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.dir, mirrorFile), append(data, '\n'))
}

func getUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func putUint(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// raiseFloor sets model name's floor to at least v, in tx.
func raiseFloor(tx *bolt.Tx, name string, v uint64) error {
	meta := tx.Bucket(bucketMeta)
	key := []byte(floorPrefix + name)
	if getUint(meta.Get(key)) >= v {
		return nil
	}
	return meta.Put(key, putUint(v))
}

// floor returns model name's floor, in tx.
func floor(tx *bolt.Tx, name string) uint64 {
	return getUint(tx.Bucket(bucketMeta).Get([]byte(floorPrefix + name)))
}

// recover merges versions.json and, when state.db was started afresh, the
// version directories into state.db: every floor is the highest of the
// three, and a model that state.db does not know gets back the active and
// previous versions versions.json names, when their files are still here.
// fresh says state.db did not exist before this Open.
func (s *Store) recover(fresh bool) error {
	path := filepath.Join(s.dir, mirrorFile)
	m, err := readMirror(path)
	if err != nil {
		s.o.Log.Warn("store: the copy of the accepted versions is damaged; rebuilding it from state.db", "path", path, "err", err)
		m = &mirror{V: 1}
	}
	var dirs map[string]uint64
	if fresh {
		dirs = s.highestDirs()
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if m.Agent > getUint(meta.Get(keyAgent)) {
			if err := meta.Put(keyAgent, putUint(m.Agent)); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketModels)
		for name, mm := range m.Models {
			if err := raiseFloor(tx, name, mm.Last); err != nil {
				return err
			}
			if b.Get([]byte(name)) != nil {
				continue
			}
			rec := Model{Name: name, LastVersion: mm.Last, Changed: mm.Changed, Good: mm.Good}
			if mm.Active != 0 && s.hasVersion(name, mm.Active) {
				rec.Active = mm.Active
				if mm.Previous != 0 && s.hasVersion(name, mm.Previous) {
					rec.Previous = mm.Previous
				}
			}
			if rec.Active == 0 {
				continue
			}
			s.o.Log.Warn("store: model state restored from the copy of the accepted versions", "model", name, "active", rec.Active, "previous", rec.Previous)
			v, err := json.Marshal(&rec)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(name), v); err != nil {
				return err
			}
		}
		for name, v := range dirs {
			if _, known := m.Models[name]; known || b.Get([]byte(name)) != nil {
				continue
			}
			s.o.Log.Warn("store: no record of a model's versions; refusing versions up to the highest one stored", "model", name, "version", v)
			if err := raiseFloor(tx, name, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// hasVersion reports whether a version directory exists with files in it.
func (s *Store) hasVersion(name string, v uint64) bool {
	es, err := os.ReadDir(s.versionDir(name, v))
	return err == nil && len(es) > 0
}

// highestDirs returns the highest numbered version directory of each
// model directory.
func (s *Store) highestDirs() map[string]uint64 {
	out := map[string]uint64{}
	root := filepath.Join(s.dir, "models")
	names, err := os.ReadDir(root)
	if err != nil {
		return out
	}
	for _, n := range names {
		if checkName("model name", n.Name()) != nil {
			continue
		}
		vs, err := os.ReadDir(filepath.Join(root, n.Name()))
		if err != nil {
			continue
		}
		for _, v := range vs {
			if ver, err := strconv.ParseUint(v.Name(), 10, 64); err == nil && ver <= sign.MaxVersion {
				out[n.Name()] = max(out[n.Name()], ver)
			}
		}
	}
	return out
}

// AgentVersion returns the highest agent version recorded with
// RecordAgentVersion: pass the larger of it and the running version as
// the LastVersion of an agent update.
func (s *Store) AgentVersion() (uint64, error) {
	var v uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v = getUint(tx.Bucket(bucketMeta).Get(keyAgent))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: agent version: %w", err)
	}
	return v, nil
}

// RecordAgentVersion raises the highest agent version accepted to v (an
// update that was installed), in state.db and versions.json.
func (s *Store) RecordAgentVersion(v uint64) error {
	if v == 0 || v > sign.MaxVersion {
		return fmt.Errorf("store: agent version %d: want 1 to %d", v, uint64(sign.MaxVersion))
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if getUint(meta.Get(keyAgent)) >= v {
			return nil
		}
		return meta.Put(keyAgent, putUint(v))
	})
	if err != nil {
		return fmt.Errorf("store: agent version %d: %w", v, err)
	}
	s.writeMirror()
	return nil
}
