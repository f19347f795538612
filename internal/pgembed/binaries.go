package pgembed

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// FindBinaries returns the folder holding the PostgreSQL server programs
// (initdb and postgres): the one pg_config reports, else the one on PATH, else
// the newest /usr/lib/postgresql/*/bin (Debian and Ubuntu keep them there, off
// PATH).
func FindBinaries() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		// pg_config may come from a client-only package of another version.
		if dir := strings.TrimSpace(string(out)); hasServer(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if dir := filepath.Dir(p); hasServer(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return slices.Compare(version(b), version(a)) })
	for _, dir := range dirs {
		if hasServer(dir) {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries found (looked in pg_config --bindir, PATH, /usr/lib/postgresql/*/bin): " +
		"install them (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing server")
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// version turns /usr/lib/postgresql/9.6/bin into [9 6], so 15 sorts above 9.6.
func version(binDir string) []int {
	var v []int
	for _, part := range strings.Split(filepath.Base(filepath.Dir(binDir)), ".") {
		n, _ := strconv.Atoi(part)
		v = append(v, n)
	}
	return v
}
