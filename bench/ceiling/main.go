// Command ceiling is the yardstick of `make bench`: a bare net/http server,
// set up like lktoken's (HTTP/1.1 and cleartext HTTP/2 on one port, same
// timeouts), that answers every request with a static body of the size
// lktoken's answer has. What it reaches on a core is the most any Go HTTP
// service can reach there; lktoken is reported as a fraction of it.
//
// With -connect it is instead the connect-go floor: the generated
// TokenService handler with lktoken's Connect options (its codecs and
// compression threshold, service.ConnectHandlerOptions), no middleware and
// no interceptors, answering every GenerateToken with a prepared response of
// the same size. The gap between the two is what the Connect framework
// itself costs per request, before lktoken does anything.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	jsonSize := flag.Int("json-size", 600, "bytes of the answer to application/json requests")
	protoSize := flag.Int("proto-size", 450, "bytes of the answer to application/proto requests")
	connectFloor := flag.Bool("connect", false, "serve GenerateToken through connect-go with a prepared answer instead")
	flag.Parse()

	jsonBody := staticJSON(*jsonSize)
	protoBody := bytes.Repeat([]byte{'x'}, *protoSize)
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the request like a real handler must before answering.
		_, _ = io.Copy(io.Discard, r.Body)
		body, ctype := jsonBody, "application/json"
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/proto") {
			body, ctype = protoBody, "application/proto"
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(body)
	})

	if *connectFloor {
		handler = connectHandler(*jsonSize)
	}

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// The same readiness line lktoken logs, so bench/run.sh waits for both alike.
	fmt.Fprintf(os.Stderr, "{\"msg\":\"listening\",\"addr\":%q}\n", ln.Addr().String())
	log.Fatal(srv.Serve(ln))
}

// staticJSON is a JSON object of exactly n bytes (n >= 14) shaped like an answer.
func staticJSON(n int) []byte {
	const head, tail = `{"token":"`, `"}`
	pad := max(n-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// connectHandler serves the real generated handler with an answer padded so
// that its JSON encoding is jsonSize bytes.
func connectHandler(jsonSize int) http.Handler {
	answer := &lktokenv1.GenerateTokenResponse{
		ExpiresAt:           timestamppb.New(time.Unix(1795339895, 0)),
		ServerUrl:           "wss://livekit.example.test",
		RoomName:            "standup-room-42",
		ParticipantIdentity: "user-42@example.com",
	}
	empty, _ := protojson.Marshal(answer)
	answer.Token = strings.Repeat("x", max(jsonSize-len(empty)-len(`"token":"",`), 0))
	mux := http.NewServeMux()
	mux.Handle(lktokenv1connect.NewTokenServiceHandler(fixed{answer}, connect.WithHandlerOptions(service.ConnectHandlerOptions()...)))
	return mux
}

type fixed struct {
	answer *lktokenv1.GenerateTokenResponse
}

func (f fixed) GenerateToken(context.Context, *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error) {
	return f.answer, nil
}
