// Command ceiling is the yardstick of `make bench`: a bare net/http server,
// set up like lktoken's (HTTP/1.1 and cleartext HTTP/2 on one port, same
// timeouts), that answers every request with a static body of the size
// lktoken's answer has. What it reaches on a core is the most any Go HTTP
// service can reach there; lktoken is reported as a fraction of it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	jsonSize := flag.Int("json-size", 600, "bytes of the answer to application/json requests")
	protoSize := flag.Int("proto-size", 450, "bytes of the answer to application/proto requests")
	flag.Parse()

	jsonBody := staticJSON(*jsonSize)
	protoBody := bytes.Repeat([]byte{'x'}, *protoSize)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the request like a real handler must before answering.
		_, _ = io.Copy(io.Discard, r.Body)
		body, ctype := jsonBody, "application/json"
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/proto") {
			body, ctype = protoBody, "application/proto"
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(body)
	})

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
