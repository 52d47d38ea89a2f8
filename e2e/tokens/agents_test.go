package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/livekit/protocol/livekit"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// roomConfigClaim is the token's roomConfig claim as compact JSON ("" when
// absent), read from the JWT's payload itself.
func roomConfigClaim(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	rc, ok := claims["roomConfig"]
	if !ok {
		return ""
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, rc); err != nil {
		t.Fatal(err)
	}
	return compact.String()
}

// waitDispatch waits until livekit-server lists a dispatch in room.
func waitDispatch(t *testing.T, s *servers, room string) []*livekit.AgentDispatch {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	for {
		ds, err := s.livekit.ListDispatch(ctx, room)
		if err == nil && len(ds) > 0 {
			return ds
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no agent dispatch listed in %q (last error: %v)", room, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// GenerateToken, the typed client's route, dispatches an allowed agent: the
// token's roomConfig claim is exactly the agent asked for, livekit-server
// admits the token, and once the participant has created the room the
// server lists the dispatch with its metadata. An agent outside the
// allowlist is refused before any token exists.
func TestGenerateTokenDispatchesAnAllowedAgent(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 2*time.Minute)
	room, identity := unique("agents"), "user-42"
	resp := mint(ctx, t, s, s.lktoken, &lktokenv1.GenerateTokenRequest{
		RoomName: room, ParticipantIdentity: identity,
		RoomConfig: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{{AgentName: allowedAgent, Metadata: `{"lang":"en"}`}}},
	})
	if got, want := roomConfigClaim(t, resp.Token), `{"agents":[{"agentName":"e2e-helper","metadata":"{\"lang\":\"en\"}"}]}`; got != want {
		t.Errorf("roomConfig claim\n got  %s\n want %s", got, want)
	}
	if status, body, err := s.livekit.Validate(ctx, resp.Token); err != nil || status != http.StatusOK {
		t.Fatalf("validate: HTTP %d %q %v, want 200", status, body, err)
	}
	join(ctx, t, s, resp.Token, room, identity, "")
	ds := waitDispatch(t, s, room)
	if len(ds) != 1 || ds[0].GetAgentName() != allowedAgent || ds[0].GetMetadata() != `{"lang":"en"}` || ds[0].GetRoom() != room {
		t.Errorf("dispatches %v, want one of %q with its metadata in %q", ds, allowedAgent, room)
	}

	_, err := s.lktoken.Client(nil).GenerateToken(ctx, &lktokenv1.GenerateTokenRequest{
		RoomName: room, ParticipantIdentity: "user-43",
		RoomConfig: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{{AgentName: "root-shell"}}},
	})
	var cerr *connect.Error
	if connect.CodeOf(err) != connect.CodePermissionDenied || !errors.As(err, &cerr) ||
		cerr.Message() != `room_config.agents[0].agent_name: agent "root-shell" is not in the agent allowlist of this server` {
		t.Errorf("an agent outside the allowlist: %v", err)
	}
}
