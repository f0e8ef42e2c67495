package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edged-dev/edged/internal/atomicfile"
)

// sumsFile lists the sha256 of every file of a version, written by Stage
// in the format of sha256sum(1). Its name starts with a dot, which no
// staged file's may, so it cannot collide with one.
const sumsFile = ".sha256sums"

// ErrDamaged is returned by Verify for a version whose files are missing
// or are not the bytes that were staged.
var ErrDamaged = errors.New("stored files damaged")

type fileSum struct {
	name string
	sum  [sha256.Size]byte
}

func formatSums(sums []fileSum) string {
	var b strings.Builder
	for _, s := range sums {
		fmt.Fprintf(&b, "%x  %s\n", s.sum, s.name)
	}
	return b.String()
}

func parseSums(r io.Reader) ([]fileSum, error) {
	var out []fileSum
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	for sc.Scan() {
		hexSum, name, ok := strings.Cut(sc.Text(), "  ")
		b, err := hex.DecodeString(hexSum)
		if !ok || err != nil || len(b) != sha256.Size || checkName("file name", name) != nil {
			return nil, fmt.Errorf("%s: line %q: want SHA256 (64 hex digits), two spaces, a file name", sumsFile, clip(sc.Text()))
		}
		var fs fileSum
		fs.name = name
		copy(fs.sum[:], b)
		out = append(out, fs)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no file", sumsFile)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Verify checks that every file staged for a version is present with the
// sha256 it had when staged, and returns those sha256s (lower-case hex) by
// file name. Call it before loading a version (at start and at every
// load); an error wrapping ErrDamaged means the files must not be used
// (see Drop).
func (s *Store) Verify(name string, version uint64) (map[string]string, error) {
	where := fmt.Sprintf("model %s version %d", name, version)
	if err := checkName("model name", name); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	dir := s.versionDir(name, version)
	f, err := os.Open(filepath.Join(dir, sumsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: %s is missing", where, ErrDamaged, filepath.Join(dir, sumsFile))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	sums, err := parseSums(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", where, ErrDamaged, err)
	}
	out := make(map[string]string, len(sums))
	for _, fs := range sums {
		got, err := fileSHA256(filepath.Join(dir, fs.name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: %s is missing", where, ErrDamaged, fs.name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, fs.name, err)
		}
		if got != fs.sum {
			return nil, fmt.Errorf("%s: %w: %s has sha256 %x; it was staged with %x", where, ErrDamaged, fs.name, got, fs.sum)
		}
		out[fs.name] = hex.EncodeToString(got[:])
	}
	return out, nil
}

func fileSHA256(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// sumLegacy writes the sums of a version staged before versions carried
// them, from the files as they are now: damage from then on is detected.
func (s *Store) sumLegacy(name string, version uint64) error {
	dir := s.versionDir(name, version)
	if _, err := os.Stat(filepath.Join(dir, sumsFile)); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var sums []fileSum
	for _, e := range es {
		if !e.Type().IsRegular() || checkName("file name", e.Name()) != nil {
			continue
		}
		sum, err := fileSHA256(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		sums = append(sums, fileSum{e.Name(), sum})
	}
	if len(sums) == 0 {
		return nil
	}
	s.o.Log.Info("store: recording the checksums of a version staged by an earlier build", "model", name, "version", version)
	return atomicfile.WriteFile(filepath.Join(dir, sumsFile), []byte(formatSums(sums)))
}

// Drop forgets a version whose files are damaged and deletes them: the
// active version is replaced by the previous one (or by none), a previous
// or staged version is forgotten. LastVersion is kept, and the version's
// empty directory, so the version cannot be installed again. It returns
// the model's new state.
func (s *Store) Drop(name string, version uint64) (Model, error) {
	var m Model
	err := s.update(name, func(cur *Model) error {
		switch version {
		case 0:
			return fmt.Errorf("%w: version 0", ErrNotFound)
		case cur.Active:
			cur.Active, cur.Previous = cur.Previous, 0
			cur.Good = cur.Active != 0
		case cur.Previous:
			cur.Previous = 0
		case cur.Staged:
			cur.Staged = 0
		default:
			return fmt.Errorf("%w: version %d is not active, previous or staged", ErrNotFound, version)
		}
		m = *cur
		return nil
	})
	if err != nil {
		return Model{}, fmt.Errorf("store: dropping model %s version %d: %w", name, version, err)
	}
	if !slices.Contains([]uint64{m.Active, m.Previous, m.Staged}, version) {
		if err := retire(s.versionDir(name, version)); err != nil {
			s.o.Log.Warn("store: cannot remove a damaged version", "model", name, "version", version, "err", err)
		}
	}
	return m, nil
}
