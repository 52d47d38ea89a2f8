package cases

import (
	"os"
	"path/filepath"
	"testing"
)

// File writes content to a new file name in a fresh temporary directory and
// returns its path.
func File(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
