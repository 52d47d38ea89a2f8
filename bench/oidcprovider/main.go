// Command oidcprovider is the identity provider of `make bench`'s OpenID
// Connect run: discovery and a JWKS on 127.0.0.1 for one RSA key made at
// start, and one access token signed with it. It prints
//
//	issuer=http://127.0.0.1:PORT/ token=eyJ...
//
// on its first line and serves until killed. Only for benchmarks: the key
// lives in memory and the token is valid for -lifetime.
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"time"
)

func main() {
	audience := flag.String("audience", "lktoken-bench", "aud of the token")
	subject := flag.String("subject", "user-42@example.com", "sub of the token")
	lifetime := flag.Duration("lifetime", time.Hour, "lifetime of the token")
	flag.Parse()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	issuer := base + "/"
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "bench-1",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	discovery, _ := json.Marshal(map[string]string{"issuer": issuer, "jwks_uri": base + "/jwks"})

	head, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "bench-1"})
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": issuer, "aud": *audience, "sub": *subject, "org": "standup",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(*lifetime).Unix(),
	})
	in := b64(head) + "." + b64(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("issuer=%s token=%s.%s\n", issuer, in, b64(sig))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(discovery)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	log.Fatal((&http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}).Serve(l))
}
