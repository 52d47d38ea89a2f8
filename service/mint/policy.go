package mint

import (
	"fmt"
	"slices"
	"time"
)

// Lifetime bounds of the contract: what protovalidate enforces on
// expiration_seconds. A server's policy may narrow them, never widen them.
// TestContractConstantsMatchTheProto reads the rules from the generated
// descriptor and holds these constants (and ContractMaxMetadataBytes) to them.
const (
	ContractMinLifetime     = 60 * time.Second
	ContractMaxLifetime     = 24 * time.Hour
	ContractDefaultLifetime = time.Hour
)

// Size ceilings for participant metadata and attributes: LiveKit server's own
// default limits (limit.max_metadata_size, limit.max_attributes_size). A
// server's caps may be lower, never higher; the metadata ceiling is also a
// protovalidate rule in the contract.
const (
	ContractMaxMetadataBytes   = 512 << 10
	ContractMaxAttributesBytes = 64 << 10
	// DefaultMaxMetadataBytes and DefaultMaxAttributesBytes are small because
	// tokens travel in URLs and headers (LiveKit passes them as a query
	// parameter when joining).
	DefaultMaxMetadataBytes   = 4096
	DefaultMaxAttributesBytes = 4096
)

// Policy is what a server grants beyond the request: where clients connect, how
// long tokens live, how much participant data a token may carry and which
// agents a request may dispatch. The permissions themselves are fixed (see
// JoinGrant).
type Policy struct {
	// ServerURL is the LiveKit URL returned to clients.
	ServerURL string
	// DefaultLifetime applies when a request names none.
	DefaultLifetime time.Duration
	// MinLifetime and MaxLifetime bound what a request may ask for.
	MinLifetime time.Duration
	MaxLifetime time.Duration
	// MaxMetadataBytes caps participant_metadata (and each dispatched agent's
	// metadata), in bytes.
	MaxMetadataBytes int
	// MaxAttributesBytes caps the sum of the lengths of all attribute keys and
	// values, in bytes.
	MaxAttributesBytes int
	// AllowedAgents are the agent names a request may dispatch through
	// room_config.agents; empty allows none.
	AllowedAgents []string
}

// DefaultPolicy returns the contract's bounds and a one-hour default.
func DefaultPolicy(serverURL string) Policy {
	return Policy{
		ServerURL:       serverURL,
		DefaultLifetime: ContractDefaultLifetime,
		MinLifetime:     ContractMinLifetime,
		MaxLifetime:     ContractMaxLifetime,

		MaxMetadataBytes:   DefaultMaxMetadataBytes,
		MaxAttributesBytes: DefaultMaxAttributesBytes,
	}
}

// Check reports a policy that contradicts itself or the contract, calling
// each setting as name does (nil: by its variable).
func (p Policy) Check(name func(env string) string) error {
	if name == nil {
		name = func(env string) string { return env }
	}
	if p.MinLifetime < ContractMinLifetime || p.MaxLifetime > ContractMaxLifetime || p.MinLifetime > p.MaxLifetime {
		return fmt.Errorf("lifetime bounds %s..%s: must satisfy %s <= min <= max <= %s (%s, %s)",
			p.MinLifetime, p.MaxLifetime, ContractMinLifetime, ContractMaxLifetime, name("LKTOKEN_MIN_LIFETIME"), name("LKTOKEN_MAX_LIFETIME"))
	}
	if p.MinLifetime%time.Second != 0 || p.MaxLifetime%time.Second != 0 || p.DefaultLifetime%time.Second != 0 {
		return fmt.Errorf("lifetimes must be whole seconds (%s, %s, %s)",
			name("LKTOKEN_DEFAULT_LIFETIME"), name("LKTOKEN_MIN_LIFETIME"), name("LKTOKEN_MAX_LIFETIME"))
	}
	if p.DefaultLifetime < p.MinLifetime || p.DefaultLifetime > p.MaxLifetime {
		return fmt.Errorf("%s %s: must lie within %s..%s", name("LKTOKEN_DEFAULT_LIFETIME"), p.DefaultLifetime, p.MinLifetime, p.MaxLifetime)
	}
	if p.MaxMetadataBytes < 0 || p.MaxMetadataBytes > ContractMaxMetadataBytes {
		return fmt.Errorf("%s %d: must be from 0 to %d", name("LKTOKEN_MAX_METADATA_BYTES"), p.MaxMetadataBytes, ContractMaxMetadataBytes)
	}
	if p.MaxAttributesBytes < 0 || p.MaxAttributesBytes > ContractMaxAttributesBytes {
		return fmt.Errorf("%s %d: must be from 0 to %d", name("LKTOKEN_MAX_ATTRIBUTES_BYTES"), p.MaxAttributesBytes, ContractMaxAttributesBytes)
	}
	return nil
}

// agentAllowed reports whether name is in the allowlist.
func (p Policy) agentAllowed(name string) bool {
	return slices.Contains(p.AllowedAgents, name)
}

// attributesBytes is what LiveKit counts against its attributes limit: the
// lengths of every key and value.
func attributesBytes(attrs map[string]string) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(v)
	}
	return n
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
