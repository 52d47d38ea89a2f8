// Command connectfloor is the connect-go floor of `make bench`
// (TARGETS="... connect-floor ..."): lktoken's generated TokenService handler
// with lktoken's Connect options (its codecs and compression threshold,
// service.ConnectHandlerOptions), no middleware and no interceptors,
// answering every GenerateToken with a prepared response of lktoken's answer
// size, on an http.Server set up like lktoken's. Its distance to
// bench/ceiling is what the Connect framework itself costs per request,
// before lktoken does anything.
package main

import (
	"context"
	"flag"
	"fmt"
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
	"github.com/lktoken/lktoken/service/api"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	jsonSize := flag.Int("json-size", 642, "bytes of the JSON answer")
	flag.Parse()

	// An answer padded so that its JSON encoding is jsonSize bytes.
	answer := &lktokenv1.GenerateTokenResponse{
		ExpiresAt:           timestamppb.New(time.Unix(1795339895, 0)),
		ServerUrl:           "wss://livekit.example.test",
		RoomName:            "standup-room-42",
		ParticipantIdentity: "user-42@example.com",
	}
	empty, _ := protojson.Marshal(answer)
	answer.Token = strings.Repeat("x", max(*jsonSize-len(empty)-len(`"token":"",`), 0))
	mux := http.NewServeMux()
	mux.Handle(lktokenv1connect.NewTokenServiceHandler(fixed{answer}, connect.WithHandlerOptions(api.CodecOptions()...)))

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           mux,
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
	fmt.Fprintf(os.Stderr, "{\"msg\":\"listening\",\"addr\":%q}\n", ln.Addr().String())
	log.Fatal(srv.Serve(ln))
}

type fixed struct {
	answer *lktokenv1.GenerateTokenResponse
}

func (f fixed) GenerateToken(context.Context, *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error) {
	return f.answer, nil
}
