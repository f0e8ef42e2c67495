package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edged-dev/edged/internal/atomicfile"
)

// untilPath holds, as RFC 3339 text, the time until which a transfer is
// wanted (Receiver.Until): Sweep removes it and its files after that.
func (r *Receiver) untilPath(sum string) string { return filepath.Join(r.Dir, sum+".until") }

// recordUntil keeps the latest time until which sum is wanted.
func (r *Receiver) recordUntil(sum string) error {
	if r.Until.IsZero() {
		return nil
	}
	if old, err := readUntil(r.untilPath(sum)); err == nil && !old.Before(r.Until) {
		return nil
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(r.untilPath(sum), []byte(r.Until.UTC().Format(time.RFC3339)))
}

func readUntil(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	if len(b) > 64 {
		return time.Time{}, errors.New("too long")
	}
	return time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
}

// Discard removes everything Dir holds of blob sum: the part file, its
// bitmap, a completed file and the record of until when it is wanted. Call
// it when a transfer is no longer wanted: the command that asked for it
// failed for good, was refused or was superseded.
func (r *Receiver) Discard(sum string) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	var errs []error
	for _, p := range []string{r.PartPath(sum), r.BitmapPath(sum), r.Path(sum), r.untilPath(sum)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transfer: discarding %s: %w", sum, err)
	}
	return nil
}

// Sweep removes from Dir the transfers no longer wanted at now: those
// whose Until has passed, those that recorded none (left by a build that
// did not, or by a Receiver without Until), and temporary files. Call it
// at start, before any Fetch. It returns the blobs it removed.
func (r *Receiver) Sweep(now time.Time) ([]string, error) {
	es, err := os.ReadDir(r.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("transfer: sweeping %s: %w", r.Dir, err)
	}
	var removed []string
	var errs []error
	seen := map[string]bool{}
	for _, e := range es {
		name := e.Name()
		if strings.Contains(name, ".tmp-") && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(r.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if len(name) < 64 || checkSum(name[:64]) != nil || seen[name[:64]] {
			continue
		}
		switch name[64:] {
		case "", ".part", ".bitmap", ".until":
		default:
			continue
		}
		sum := name[:64]
		seen[sum] = true
		if until, err := readUntil(r.untilPath(sum)); err == nil && now.Before(until) {
			continue
		}
		if err := r.Discard(sum); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, sum)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("transfer: sweeping %s: %w", r.Dir, err)
	}
	return removed, nil
}

func checkSum(s string) error {
	if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
		return fmt.Errorf("transfer: %q is not a sha256 in lower-case hex", s)
	}
	return nil
}
