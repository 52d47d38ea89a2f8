// Package harness starts the real programs the end-to-end suites test
// against: livekit-server (built by e2e/livekit/build.sh) and the lktoken
// binary built from this repository. Both listen on 127.0.0.1 at free ports,
// are stopped by PID, and every wait has a timeout. It also speaks enough of
// LiveKit's signalling and RoomService protocols to ask the server what it
// accepted.
//
// Secrets and tokens never reach test output: process logs pass through
// Redact before they are shown.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RepoRoot returns the root of the lktoken repository: the nearest directory
// at or above the working directory whose go.mod declares the lktoken module.
// Tests run in their package directory inside e2e/, so it is found from there.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(b) == "github.com/lktoken/lktoken" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.mod of module github.com/lktoken/lktoken at or above the working directory")
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// LiveKitBinary returns the path of the livekit-server binary: the one named
// by $LIVEKIT_SERVER_BIN, else the one e2e/livekit/build.sh prints, building
// it (3-6 minutes cold) when it is not cached yet.
func LiveKitBinary(ctx context.Context) (string, error) {
	return cachedBinary(ctx, "LIVEKIT_SERVER_BIN", "livekit")
}

// cachedBinary returns the path of a program the suites run but do not
// build from this repository: the one named by $envVar, else the one
// e2e/<dir>/build.sh prints (the script builds it into e2e/<dir>/bin/ unless
// it is cached there already).
func cachedBinary(ctx context.Context, envVar, dir string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", envVar, err)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 12*time.Minute)
	defer cancel()
	script := "e2e/" + dir + "/build.sh"
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "e2e", dir, "build.sh"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, tail(stderr.String(), 40))
	}
	p := strings.TrimSpace(stdout.String())
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s printed %q: %w", script, p, err)
	}
	return p, nil
}

// BuildLKToken builds ./cmd/lktoken of the repository into dir and returns
// the binary's path: the suites test the program users run, not the package.
func BuildLKToken(ctx context.Context, dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "lktoken")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/lktoken")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/lktoken: %w\n%s", err, out)
	}
	return bin, nil
}

// Unavailable ends a test whose servers cannot be had. Under CI=true that is
// a failure, never a skip; locally the test is skipped with a loud message.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("end-to-end servers unavailable (CI=true, so this fails rather than skips): %v", err)
	}
	t.Skipf("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"+
		"!!! SKIPPING the end-to-end suite: the LiveKit server is unavailable.\n"+
		"!!! Nothing was proven against a real server. Cause:\n%v\n"+
		"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", err)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Tail returns the last n lines of s: for showing the end of a server log.
func Tail(s string, n int) string { return tail(s, n) }
