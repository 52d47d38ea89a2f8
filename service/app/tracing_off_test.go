//go:build !otel

package app

import "testing"

// Without the otel tag, --tracing cannot work; the error says how to get it.
func TestTracingNeedsTheOtelBuildTag(t *testing.T) {
	t.Parallel()
	_, _, err := newTracing()
	if err == nil || err.Error() != "this lktoken was built without tracing: rebuild it with `go build -tags otel ./cmd/lktoken`" {
		t.Errorf("err = %v", err)
	}
}
