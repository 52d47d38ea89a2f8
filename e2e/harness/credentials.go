package harness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"testing"
)

// Credentials are a LiveKit API key and secret.
type Credentials struct {
	APIKey    string
	APISecret string
}

// NewCredentials returns a key and a 64-character secret made for this run
// only, so that nothing passes by accident with LiveKit's public dev pair.
func NewCredentials() Credentials {
	return Credentials{APIKey: "APIe2e" + randomHex(6), APISecret: randomHex(32)}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux.
	return hex.EncodeToString(b)
}

// freeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before ours binds it; callers retry.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a
// server a test starts itself; it fails t if there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// freeUDPPort is freeTCPPort for UDP.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
