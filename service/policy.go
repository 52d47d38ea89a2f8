package service

import (
	"fmt"
	"time"
)

// Lifetime bounds of the contract: what protovalidate enforces on
// expiration_seconds. A server's policy may narrow them, never widen them.
const (
	ContractMinLifetime     = 60 * time.Second
	ContractMaxLifetime     = 24 * time.Hour
	ContractDefaultLifetime = time.Hour
)

// Policy is what a server grants beyond the request: where clients connect and
// how long tokens live. The permissions themselves are fixed (see JoinGrant).
type Policy struct {
	// ServerURL is the LiveKit URL returned to clients.
	ServerURL string
	// DefaultLifetime applies when a request names none.
	DefaultLifetime time.Duration
	// MinLifetime and MaxLifetime bound what a request may ask for.
	MinLifetime time.Duration
	MaxLifetime time.Duration
}

// DefaultPolicy returns the contract's bounds and a one-hour default.
func DefaultPolicy(serverURL string) Policy {
	return Policy{
		ServerURL:       serverURL,
		DefaultLifetime: ContractDefaultLifetime,
		MinLifetime:     ContractMinLifetime,
		MaxLifetime:     ContractMaxLifetime,
	}
}

// check reports a policy that contradicts itself or the contract.
func (p Policy) check() error {
	if p.MinLifetime < ContractMinLifetime || p.MaxLifetime > ContractMaxLifetime || p.MinLifetime > p.MaxLifetime {
		return fmt.Errorf("lifetime bounds %s..%s: must satisfy %s <= min <= max <= %s (LKTOKEN_MIN_LIFETIME, LKTOKEN_MAX_LIFETIME)",
			p.MinLifetime, p.MaxLifetime, ContractMinLifetime, ContractMaxLifetime)
	}
	if p.MinLifetime%time.Second != 0 || p.MaxLifetime%time.Second != 0 || p.DefaultLifetime%time.Second != 0 {
		return fmt.Errorf("lifetimes must be whole seconds (LKTOKEN_DEFAULT_LIFETIME, LKTOKEN_MIN_LIFETIME, LKTOKEN_MAX_LIFETIME)")
	}
	if p.DefaultLifetime < p.MinLifetime || p.DefaultLifetime > p.MaxLifetime {
		return fmt.Errorf("LKTOKEN_DEFAULT_LIFETIME %s: must lie within %s..%s", p.DefaultLifetime, p.MinLifetime, p.MaxLifetime)
	}
	return nil
}

// lifetime resolves the requested lifetime (nil means none asked for). The
// second result is false when the request is outside this server's bounds.
func (p Policy) lifetime(requestedSeconds *uint32) (time.Duration, bool) {
	if requestedSeconds == nil {
		return p.DefaultLifetime, true
	}
	d := time.Duration(*requestedSeconds) * time.Second
	return d, d >= p.MinLifetime && d <= p.MaxLifetime
}
