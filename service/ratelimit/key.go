package ratelimit

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Key is the budget a caller draws from, as a store keeps it: a kind
// ("s" a verified subject, "b" the static bearer token's caller, "a" a
// client address) and 128 bits of SHA-256 of what names the caller, so that
// no subject or address is readable in a shared store.
type Key string

// SubjectKey is the budget of a verified subject of an issuer.
func SubjectKey(issuer, subject string) Key { return hashed("s", issuer+"\x00"+subject) }

// BearerKey is the budget of the caller of the static bearer token: there is
// one such caller, the trusted backend that holds the token.
func BearerKey() Key { return "b:" }

// AddrKey is the budget of a client address. An IPv6 address counts by its
// /64, the block one host or customer usually holds, so that a caller cannot
// escape its budget by hopping addresses within it.
func AddrKey(a netip.Addr) Key {
	a = a.Unmap()
	b := a.As16() // an IPv4 address as its IPv4-mapped form
	if a.Is6() {
		clear(b[8:])
	}
	return hashed("a", b[:])
}

func hashed[T string | []byte](kind string, s T) Key {
	sum := sha256.Sum256([]byte(s))
	var out [2 + 22]byte
	out[0], out[1] = kind[0], ':'
	base64.RawURLEncoding.Encode(out[2:], sum[:16])
	return Key(out[:])
}

// Header names of the client address a proxy forwards.
const (
	XForwardedFor = "X-Forwarded-For"
	Forwarded     = "Forwarded"
)

// Proxies says which peers are trusted proxies and which header they put
// the client's address in. The zero value trusts none: the client is the
// peer.
type Proxies struct {
	trusted []netip.Prefix
	header  string
}

// ParseRanges reads a comma-separated list of address ranges (CIDR, or
// single addresses); blank is none.
func ParseRanges(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for r := range strings.SplitSeq(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(r)
		if err != nil {
			a, aerr := netip.ParseAddr(r)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR range such as 10.0.0.0/8", r)
			}
			pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}

// ProxyHeader is the header name as [NewProxies] takes it, whatever its
// case: X-Forwarded-For or Forwarded.
func ProxyHeader(s string) (string, error) {
	switch {
	case strings.EqualFold(s, XForwardedFor):
		return XForwardedFor, nil
	case strings.EqualFold(s, Forwarded):
		return Forwarded, nil
	}
	return "", fmt.Errorf("must be %s or %s", XForwardedFor, Forwarded)
}

// NewProxies trusts the peers in ranges to append the client's address to
// header (X-Forwarded-For or Forwarded, RFC 7239).
func NewProxies(ranges []netip.Prefix, header string) (Proxies, error) {
	h, err := ProxyHeader(header)
	return Proxies{trusted: ranges, header: h}, err
}

func (p Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pfx := range p.trusted {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the address of the client behind peer (a request's RemoteAddr):
// the peer itself unless it is a trusted proxy; then, walking the proxy
// header's addresses from the last (the one the nearest proxy appended)
// backwards, the first that is not a trusted proxy. An address that does not
// parse ends the walk at the last trusted hop, so that a client cannot
// choose its key by sending garbage. ok is false when peer has no address
// (a test's fake peer, a Unix socket).
func (p Proxies) Client(peer string, h http.Header) (addr netip.Addr, ok bool) {
	host, _, err := net.SplitHostPort(peer)
	if err != nil {
		host = peer
	}
	addr, err = netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	addr = addr.Unmap()
	if !p.trusts(addr) {
		return addr, true
	}
	hops := forwardedFor(h.Values(p.header), p.header == Forwarded)
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(hops[i])
		if err != nil {
			return addr, true
		}
		addr = hop.Unmap()
		if !p.trusts(addr) {
			return addr, true
		}
	}
	return addr, true
}

// forwardedFor lists the client addresses of X-Forwarded-For values, or the
// for= parameters of Forwarded values, in order.
func forwardedFor(values []string, rfc7239 bool) []string {
	var out []string
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			elem = strings.TrimSpace(elem)
			if !rfc7239 {
				// Some proxies add the port (Azure App Service's front ends:
				// "203.0.113.7:51234"); either way it is the address.
				out = append(out, forNode(elem))
				continue
			}
			node := "unknown" // an element without for= is a hop we cannot name
			for pair := range strings.SplitSeq(elem, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(k, "for") {
					node = strings.Trim(v, `"`)
				}
			}
			out = append(out, forNode(node))
		}
	}
	return out
}

// forNode is the address of a node: "[v6]:port", "[v6]", "v4:port", "v4" or
// a bare v6 ("unknown" and RFC 7239's obfuscated names stay as they are and
// do not parse).
func forNode(n string) string {
	if strings.HasPrefix(n, "[") {
		if end := strings.IndexByte(n, ']'); end > 0 {
			return n[1:end]
		}
		return n
	}
	if host, _, err := net.SplitHostPort(n); err == nil {
		return host
	}
	return n
}
