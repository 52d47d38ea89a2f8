//go:build tools

// Package tools pins the LiveKit server command so `go build` can produce it
// from this module.
package tools

import _ "github.com/livekit/livekit-server/cmd/server"
