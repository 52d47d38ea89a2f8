package mint

import (
	"slices"
	"time"

	"github.com/lktoken/lktoken/service/setting"
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

// The fields of a [Policy], as [Policy.Check]'s errors name them (package
// setting): package config renders each as the flag or variable the user set.
const (
	FieldDefaultLifetime    setting.Field = "mint.DefaultLifetime"
	FieldMinLifetime        setting.Field = "mint.MinLifetime"
	FieldMaxLifetime        setting.Field = "mint.MaxLifetime"
	FieldMaxMetadataBytes   setting.Field = "mint.MaxMetadataBytes"
	FieldMaxAttributesBytes setting.Field = "mint.MaxAttributesBytes"
)

// Check reports a policy that contradicts itself or the contract, as a
// [setting.Error] naming the fields to change.
func (p Policy) Check() error {
	if p.MinLifetime < ContractMinLifetime || p.MaxLifetime > ContractMaxLifetime || p.MinLifetime > p.MaxLifetime {
		return setting.Errorf("lifetime bounds %s..%s: must satisfy %s <= min <= max <= %s (%s, %s)",
			p.MinLifetime, p.MaxLifetime, ContractMinLifetime, ContractMaxLifetime, FieldMinLifetime, FieldMaxLifetime)
	}
	if p.MinLifetime%time.Second != 0 || p.MaxLifetime%time.Second != 0 || p.DefaultLifetime%time.Second != 0 {
		return setting.Errorf("lifetimes must be whole seconds (%s, %s, %s)", FieldDefaultLifetime, FieldMinLifetime, FieldMaxLifetime)
	}
	if p.DefaultLifetime < p.MinLifetime || p.DefaultLifetime > p.MaxLifetime {
		return setting.Errorf("%s %s: must lie within %s..%s", FieldDefaultLifetime, p.DefaultLifetime, p.MinLifetime, p.MaxLifetime)
	}
	if p.MaxMetadataBytes < 0 || p.MaxMetadataBytes > ContractMaxMetadataBytes {
		return setting.Errorf("%s %d: must be from 0 to %d", FieldMaxMetadataBytes, p.MaxMetadataBytes, ContractMaxMetadataBytes)
	}
	if p.MaxAttributesBytes < 0 || p.MaxAttributesBytes > ContractMaxAttributesBytes {
		return setting.Errorf("%s %d: must be from 0 to %d", FieldMaxAttributesBytes, p.MaxAttributesBytes, ContractMaxAttributesBytes)
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
