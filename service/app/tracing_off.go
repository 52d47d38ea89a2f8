//go:build !otel

package app

import (
	"context"
	"errors"

	"github.com/lktoken/lktoken/service/pipeline"
)

// newTracing in a build without the otel tag: --tracing cannot work, and the
// error says how to get a build where it does (see tracing.go for why).
func newTracing() (pipeline.Tracer, func(context.Context) error, error) {
	return nil, nil, errors.New("this lktoken was built without tracing: rebuild it with `go build -tags otel ./cmd/lktoken`")
}
