package mint_test

import (
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/mint"
)

// fieldRules are the protovalidate rules of GenerateTokenRequest's field name.
func fieldRules(t *testing.T, name protoreflect.Name) *validate.FieldRules {
	t.Helper()
	fd := (&lktokenv1.GenerateTokenRequest{}).ProtoReflect().Descriptor().Fields().ByName(name)
	if fd == nil {
		t.Fatalf("GenerateTokenRequest has no field %s", name)
	}
	rules, ok := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	if !ok || rules == nil {
		t.Fatalf("%s has no protovalidate rules", name)
	}
	return rules
}

// The Contract* constants restate rules of proto/ for the server's policy
// (whose bounds may narrow them, never widen them): read the rules from the
// generated descriptor, so that a change to proto/ fails here until the
// constants follow it.
func TestContractConstantsMatchTheProto(t *testing.T) {
	t.Parallel()
	exp := fieldRules(t, "expiration_seconds").GetUint32()
	if got, want := time.Duration(exp.GetGte())*time.Second, mint.ContractMinLifetime; got != want {
		t.Errorf("expiration_seconds gte %v, mint.ContractMinLifetime %v", got, want)
	}
	if got, want := time.Duration(exp.GetLte())*time.Second, mint.ContractMaxLifetime; got != want {
		t.Errorf("expiration_seconds lte %v, mint.ContractMaxLifetime %v", got, want)
	}
	if d := mint.ContractDefaultLifetime; d < mint.ContractMinLifetime || d > mint.ContractMaxLifetime {
		t.Errorf("mint.ContractDefaultLifetime %v outside the contract's bounds", d)
	}
	if got, want := fieldRules(t, "participant_metadata").GetString().GetMaxBytes(), uint64(mint.ContractMaxMetadataBytes); got != want {
		t.Errorf("participant_metadata max_bytes %d, mint.ContractMaxMetadataBytes %d", got, want)
	}
}
