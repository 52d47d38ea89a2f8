package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/config"
)

// healthcheck is `lktoken healthcheck [--listen ADDR]`: GET /readyz of the
// server this configuration starts (its listen address setting or
// FUNCTIONS_CUSTOMHANDLER_PORT), nil only for 200. It is the probe of a
// shell-less image (HEALTHCHECK CMD ["/lktoken", "healthcheck"]), so it reads
// nothing but the address: a probe must not fail for a setting the server
// got from its arguments.
func healthcheck(args []string, getenv func(string) string) error {
	addr, err := config.ListenAddr(args, getenv)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if port == "0" {
		return fmt.Errorf("listen address %q has no fixed port to probe", addr)
	}
	// A server listening on every interface is asked on loopback.
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
