//go:build otel

package service

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newTracing builds the OpenTelemetry interceptor (--tracing). It exists only
// in builds tagged otel (`go build -tags otel ./cmd/lktoken`): the OTLP
// exporter links gRPC-Go and the OpenTelemetry SDK, about 7 MB of resident
// memory in every process, which a default build should not pay for a
// feature that is off by default. Spans go over
// OTLP/HTTP to wherever the standard variables point
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ...;
// default http://localhost:4318). Spans carry the procedure, protocol, code
// and message sizes, never a payload, so no token reaches the collector. The
// returned func flushes and stops the exporter.
func newTracing() (connect.Interceptor, func(context.Context) error, error) {
	exp, err := otlptracehttp.New(context.Background())
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "lktoken"))),
	)
	icpt, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(tp),
		otelconnect.WithoutMetrics(), // metrics are Prometheus' job here
		// W3C traceparent from callers links their trace; remote spans are not
		// trusted as parents (the default), as befits a public endpoint.
		otelconnect.WithPropagator(propagation.TraceContext{}),
	)
	if err != nil {
		_ = tp.Shutdown(context.Background())
		return nil, nil, err
	}
	return icpt, tp.Shutdown, nil
}
