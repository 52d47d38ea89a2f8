package ratelimit

import (
	"io"
	"log/slog"
)

func newTextLog(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
