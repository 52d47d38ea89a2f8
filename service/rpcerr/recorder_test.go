package rpcerr

import "testing"

// The trailer frame is found however the writes split the envelopes.
func TestWebTrailerAcrossWrites(t *testing.T) {
	t.Parallel()
	body := append([]byte{0, 0, 0, 0, 2, 'h', 'i', 0x80, 0, 0, 0, 0}, "grpc-status: 3\r\ngrpc-message: bad\r\n"...)
	body[11] = byte(len(body) - 12)
	for split := 1; split < len(body); split++ {
		var tr webTrailer
		tr.scan(body[:split])
		tr.scan(body[split:])
		if tr.status != "3" {
			t.Fatalf("split at %d: status %q", split, tr.status)
		}
	}
}
