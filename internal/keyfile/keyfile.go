// Package keyfile writes the development key files voucherd keeps in its data
// folder, once, safely when several processes start on one folder.
package keyfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteOnce creates path with data and mode unless it already exists (its
// folder too, mode 0700). The file is written under a temporary name and
// hard-linked into place: it appears whole or not at all, a link fails on an
// existing file, and so when several processes start at once the first one's
// file wins and every process reads the same key.
func WriteOnce(path string, data []byte, mode fs.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode) // explicit, so the umask cannot change it
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
