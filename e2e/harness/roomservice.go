package harness

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

// AdminToken mints, with LiveKit's own auth package, a short-lived token
// that may administer room (roomAdmin + room): what the RoomService API wants.
func (lk *LiveKit) AdminToken(room string) (string, error) {
	return auth.NewAccessToken(lk.Credentials.APIKey, lk.Credentials.APISecret).
		SetIdentity("lktoken-e2e-admin").
		SetVideoGrant(&auth.VideoGrant{RoomAdmin: true, Room: room}).
		SetValidFor(10 * time.Minute).
		ToJWT()
}

// ListParticipants asks the server's RoomService (Twirp, protobuf) who is in
// room, with an admin token for that room.
func (lk *LiveKit) ListParticipants(ctx context.Context, room string) ([]*livekit.ParticipantInfo, error) {
	ctx, token, err := lk.asAdmin(ctx, room)
	if err != nil {
		return nil, err
	}
	client := livekit.NewRoomServiceProtobufClient(lk.URL, &http.Client{Timeout: 30 * time.Second})
	resp, err := client.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		return nil, fmt.Errorf("RoomService.ListParticipants: %s", Redact(err.Error(), token))
	}
	return resp.Participants, nil
}

// ListDispatch asks the server's AgentDispatchService which agents are
// dispatched to room (those a participant's token asked for included).
func (lk *LiveKit) ListDispatch(ctx context.Context, room string) ([]*livekit.AgentDispatch, error) {
	ctx, token, err := lk.asAdmin(ctx, room)
	if err != nil {
		return nil, err
	}
	client := livekit.NewAgentDispatchServiceProtobufClient(lk.URL, &http.Client{Timeout: 30 * time.Second})
	resp, err := client.ListDispatch(ctx, &livekit.ListAgentDispatchRequest{Room: room})
	if err != nil {
		return nil, fmt.Errorf("AgentDispatchService.ListDispatch: %s", Redact(err.Error(), token))
	}
	return resp.AgentDispatches, nil
}

// asAdmin returns ctx carrying an admin token for room as Twirp's
// Authorization header, and the token (to redact from errors).
func (lk *LiveKit) asAdmin(ctx context.Context, room string) (context.Context, string, error) {
	token, err := lk.AdminToken(room)
	if err != nil {
		return nil, "", fmt.Errorf("mint admin token: %w", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	ctx, err = twirp.WithHTTPRequestHeaders(ctx, h)
	return ctx, token, err
}
