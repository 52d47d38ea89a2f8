//go:build otel

package main

// buildTags are passed to the build of the binary under test.
const buildTags = "otel"
