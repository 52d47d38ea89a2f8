package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// setupTimeout bounds a package's shared setup: building lktoken and, cold,
// livekit-server or Hydra, then starting them.
const setupTimeout = 14 * time.Minute

// Suite is what a test package shares, of type T (its servers, or a binary
// built once), set up on first use (Get) and stopped or removed when the
// package's tests are done (Main, from TestMain).
type Suite[T any] struct {
	once     sync.Once
	val      T
	err      error
	teardown Teardown
}

// Teardown collects what a Suite's setup started, undone in reverse order
// once the package's tests are done, even when setup failed part way.
type Teardown struct {
	fns []func() error
}

// Add registers stop, typically a server's Stop, right after it started.
func (td *Teardown) Add(stop func() error) { td.fns = append(td.fns, stop) }

// TempDir makes a directory (os.MkdirTemp("", pattern)) that is removed at
// teardown.
func (td *Teardown) TempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	td.Add(func() error { return os.RemoveAll(dir) })
	return dir, nil
}

func (td *Teardown) run() error {
	var errs []error
	for _, stop := range slices.Backward(td.fns) {
		errs = append(errs, stop())
	}
	td.fns = nil
	return errors.Join(errs...)
}

// unavailableError marks a setup error as "a server binary cannot be had".
type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }
func (e unavailableError) Unwrap() error { return e.err }

// ServersUnavailable marks err, returned by a Suite's setup, as the one
// case in which a test may skip: a server binary (livekit-server, Hydra)
// cannot be had. Get then calls Unavailable, which fails under CI=true.
func ServersUnavailable(err error) error { return unavailableError{err} }

// Get returns what the suite shares, calling setup (with a 14-minute context)
// on first use. If setup failed, the test skips or fails through
// Unavailable when the error is ServersUnavailable, and fails otherwise.
func (s *Suite[T]) Get(t testing.TB, setup func(ctx context.Context, td *Teardown) (T, error)) T {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		s.val, s.err = setup(ctx, &s.teardown)
	})
	if u, ok := errors.AsType[unavailableError](s.err); ok {
		Unavailable(t, u.err)
	}
	if s.err != nil {
		t.Fatalf("shared setup: %v", s.err)
	}
	return s.val
}

// Main runs the package's tests, then stops whatever setup started (by PID)
// and exits; a failed teardown fails the run. Call it as TestMain's body.
func (s *Suite[T]) Main(m *testing.M) {
	code := m.Run()
	if err := s.teardown.run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown:", err)
		code = 1
	}
	os.Exit(code)
}
