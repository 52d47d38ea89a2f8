//go:build otel

package app

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service/pipeline"
)

// newTracing builds the OpenTelemetry tracer of the mint operation
// (--tracing): one span per mint on every route, Connect and /api/token
// alike. It exists only in builds tagged otel (`go build -tags otel
// ./cmd/lktoken`): the OTLP exporter links gRPC-Go and the OpenTelemetry SDK,
// about 7 MB of resident memory in every process, which a default build
// should not pay for a feature that is off by default. Spans go over
// OTLP/HTTP to wherever the standard variables point
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ...;
// default http://localhost:4318). Spans carry the route, code and peer, never
// a payload, so no token reaches the collector. The returned func flushes and
// stops the exporter.
func newTracing() (pipeline.Tracer, func(context.Context) error, error) {
	exp, err := otlptracehttp.New(context.Background())
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "lktoken"))),
	)
	return otelTracer{tracer: tp.Tracer("github.com/lktoken/lktoken/service/pipeline")}, tp.Shutdown, nil
}

// otelTracer implements pipeline.Tracer.
type otelTracer struct{ tracer trace.Tracer }

// Start opens a server span named as otelconnect names RPC spans (the
// procedure without its leading slash; "POST /api/token" for the token
// endpoint). A caller's W3C traceparent becomes a link, not the parent:
// remote spans are not trusted on a public endpoint.
func (t otelTracer) Start(ctx context.Context, call *pipeline.Call) (context.Context, func(error)) {
	name, system := strings.TrimPrefix(call.Route, "/"), "connect_rpc"
	if call.Route != lktokenv1connect.TokenServiceGenerateTokenProcedure {
		name, system = "POST "+call.Route, "http"
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rpc.system", system), attribute.String("lktoken.route", call.Route),
			attribute.String("client.address", call.Peer)),
	}
	remote := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(call.Header)))
	if remote.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: remote}))
	}
	ctx, span := t.tracer.Start(ctx, name, opts...)
	return ctx, func(err error) {
		code := "ok"
		if err != nil {
			code = connect.CodeOf(err).String()
			span.SetStatus(codes.Error, code)
		}
		span.SetAttributes(attribute.String("rpc.connect_rpc.error_code", code))
		span.End()
	}
}
