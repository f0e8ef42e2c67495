package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RepoRoot returns the directory of go.mod above the working directory.
func RepoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("no go.mod above the working directory")
		}
		d = p
	}
}

// OracleDir finds the TFLite oracle (the official runtime in WebAssembly,
// ../shared/tools/oracle): EDGED_ORACLE (a directory with oracle.mjs and
// node_modules, or the oracle.mjs in it), else the cache that
// scripts/oracle-setup.sh fills (<repo>/.cache/oracle, or
// $EDGED_ORACLE_CACHE). Without one it returns "" and why. An
// EDGED_ORACLE that does not work fails the test: a setting made on
// purpose must not turn into a skip.
func OracleDir(t testing.TB) (dir, why string) {
	t.Helper()
	usable := func(d string) bool {
		_, err1 := os.Stat(filepath.Join(d, "oracle.mjs"))
		_, err2 := os.Stat(filepath.Join(d, "node_modules", "@litertjs", "core"))
		return err1 == nil && err2 == nil
	}
	if d := os.Getenv("EDGED_ORACLE"); d != "" {
		if strings.HasSuffix(d, ".mjs") {
			d = filepath.Dir(d)
		}
		if !usable(d) {
			t.Fatalf("EDGED_ORACLE=%s: want a directory with oracle.mjs and node_modules/@litertjs/core (run npm ci there, or scripts/oracle-setup.sh)", d)
		}
		return d, ""
	}
	cache := os.Getenv("EDGED_ORACLE_CACHE")
	if cache == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err.Error()
		}
		cache = filepath.Join(root, ".cache", "oracle")
	}
	if usable(cache) {
		return cache, ""
	}
	return "", fmt.Sprintf("EDGED_ORACLE is unset and %s has no installed oracle", cache)
}

// Oracle is OracleDir for tests that cannot run without the oracle: it
// reports it Missing (skip, or fail under EDGED_REQUIRE_TOOLS).
func Oracle(t testing.TB) string {
	t.Helper()
	d, why := OracleDir(t)
	if d == "" {
		Missing(t, "no TFLite oracle (%s): set EDGED_ORACLE=/path/to/oracle or run scripts/oracle-setup.sh", why)
	}
	return d
}
