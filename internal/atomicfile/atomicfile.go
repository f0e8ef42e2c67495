// Package atomicfile replaces files so that a power cut leaves either the
// old or the new content, never a mix: the data goes to a temporary file
// in the same directory, which is fsynced, renamed over the target, and
// then the directory itself is fsynced so that the rename is durable.
package atomicfile

import (
	"os"
	"path/filepath"
)

// TempPattern is the os.CreateTemp pattern of WriteFile's temporary file
// for a target named base: hidden, in the target's directory.
func TempPattern(base string) string { return "." + base + ".tmp-*" }

// WriteFile replaces path with data (mode 0600). On error the temporary
// file is removed and path holds what it held before.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPattern(filepath.Base(path)))
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making the renames and creations in it
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
