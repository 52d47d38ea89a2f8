package tokens

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/lktoken/lktoken/e2e/harness"
	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// wantPermission is everything lktoken grants, as the server reports it:
// publish the microphone only, subscribe, and nothing else (no data, not
// hidden, no recorder, no metadata updates, no agent, no metrics, ...).
// Compared with proto.Equal, so any other field set fails the test.
func wantPermission() *livekit.ParticipantPermission {
	return &livekit.ParticipantPermission{
		CanSubscribe:      true,
		CanPublish:        true,
		CanPublishSources: []livekit.TrackSource{livekit.TrackSource_MICROPHONE},
	}
}

// unique makes room names distinct per test and run, so that tests sharing
// one server never meet in a room.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// mint asks lktoken for a token through the generated Connect client and
// checks what the response says it minted.
func mint(ctx context.Context, t testing.TB, s *servers, lt *harness.LKToken, req *lktokenv1.GenerateTokenRequest) *lktokenv1.GenerateTokenResponse {
	t.Helper()
	resp, err := lt.Client(nil).GenerateToken(ctx, req)
	if err != nil {
		t.Fatalf("GenerateToken(room %q, identity %q): %v", req.RoomName, req.ParticipantIdentity, err)
	}
	if resp.RoomName != req.RoomName || resp.ParticipantIdentity != req.ParticipantIdentity || resp.ServerUrl != s.livekit.WSURL {
		t.Fatalf("GenerateToken answered room %q, identity %q, server %q; want %q, %q, %q",
			resp.RoomName, resp.ParticipantIdentity, resp.ServerUrl, req.RoomName, req.ParticipantIdentity, s.livekit.WSURL)
	}
	return resp
}

// checkParticipant asserts the server's view of one participant: identity,
// name, a standard participant, exactly lktoken's permissions, no metadata.
func checkParticipant(t testing.TB, where string, p *livekit.ParticipantInfo, identity, name string) {
	t.Helper()
	if p.GetIdentity() != identity {
		t.Errorf("%s: identity %q (% x), want %q (% x)", where, p.GetIdentity(), p.GetIdentity(), identity, identity)
	}
	if p.GetName() != name {
		t.Errorf("%s: name %q, want %q", where, p.GetName(), name)
	}
	if p.GetKind() != livekit.ParticipantInfo_STANDARD {
		t.Errorf("%s: kind %s, want STANDARD", where, p.GetKind())
	}
	if p.GetMetadata() != "" || len(p.GetAttributes()) != 0 {
		t.Errorf("%s: metadata %q, attributes %v; want none", where, p.GetMetadata(), p.GetAttributes())
	}
	if !proto.Equal(p.GetPermission(), wantPermission()) {
		t.Errorf("%s: permission\n  got  %s\n  want %s", where, protojson.Format(p.GetPermission()), protojson.Format(wantPermission()))
	}
}

// join opens a signalling connection with token and checks the JoinResponse:
// the room, and the participant as the server sees it.
func join(ctx context.Context, t testing.TB, s *servers, token, room, identity, name string) *harness.SignalConn {
	t.Helper()
	sc, err := harness.Join(ctx, s.livekit.WSURL, token)
	if err != nil {
		t.Fatalf("join room %q as %q: %v", room, identity, err)
	}
	t.Cleanup(func() { _ = sc.Close() })
	if got := sc.Join.GetRoom().GetName(); got != room {
		t.Errorf("JoinResponse room %q (% x), want %q (% x)", got, got, room, room)
	}
	checkParticipant(t, "JoinResponse", sc.Join.GetParticipant(), identity, name)
	return sc
}

func TestValidateAcceptsTokensAndRefusesForeignOnes(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 2*time.Minute)
	name := "Ada Lovelace"
	for _, req := range []*lktokenv1.GenerateTokenRequest{
		{RoomName: unique("standup"), ParticipantIdentity: "user-42"},
		{RoomName: unique("standup"), ParticipantIdentity: "user-43", ParticipantName: &name},
		{RoomName: unique("standup"), ParticipantIdentity: "user-44", ExpirationSeconds: proto.Uint32(60)},
		{RoomName: unique("standup"), ParticipantIdentity: "user-45", ExpirationSeconds: proto.Uint32(86400)},
	} {
		resp := mint(ctx, t, s, s.lktoken, req)
		status, body, err := s.livekit.Validate(ctx, resp.Token)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK || body != "success" {
			t.Errorf("validate token for %q in %q: HTTP %d %q, want 200 \"success\"", req.ParticipantIdentity, req.RoomName, status, body)
		}
	}

	// Same API key, different secret: the signature must not verify.
	room := unique("standup")
	rogue := mint(ctx, t, s, s.rogue, &lktokenv1.GenerateTokenRequest{RoomName: room, ParticipantIdentity: "mallory"})
	status, body, err := s.livekit.Validate(ctx, rogue.Token)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusUnauthorized {
		t.Errorf("validate token signed with another secret: HTTP %d %q, want 401", status, body)
	}
	_, err = harness.Join(ctx, s.livekit.WSURL, rogue.Token)
	var refused *harness.JoinRefusedError
	if !errors.As(err, &refused) || refused.Status != http.StatusUnauthorized {
		t.Errorf("join with a token signed with another secret: %v, want HTTP 401", err)
	}
}

func TestJoinGrantsExactlyMicrophoneAndSubscribe(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 2*time.Minute)
	room, identity, name := unique("standup"), "user-42", "Ada Lovelace"
	resp := mint(ctx, t, s, s.lktoken, &lktokenv1.GenerateTokenRequest{
		RoomName: room, ParticipantIdentity: identity, ParticipantName: &name,
	})
	sc := join(ctx, t, s, resp.Token, room, identity, name)

	// The server's own view, while the participant's websocket is open.
	ps, err := s.livekit.ListParticipants(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Fatalf("ListParticipants(%q): %d participants, want 1", room, len(ps))
	}
	checkParticipant(t, "ListParticipants", ps[0], identity, name)
	if ps[0].GetSid() != sc.Join.GetParticipant().GetSid() {
		t.Errorf("ListParticipants sid %q, JoinResponse sid %q: not the same participant", ps[0].GetSid(), sc.Join.GetParticipant().GetSid())
	}

	// Leaving cleanly takes the participant out of the room.
	if err := sc.Close(); err != nil {
		t.Errorf("leave: %v", err)
	}
	waitGone(ctx, t, s, room, identity)
}

// waitGone waits until identity is no longer listed in room.
func waitGone(ctx context.Context, t *testing.T, s *servers, room, identity string) {
	t.Helper()
	for {
		ps, err := s.livekit.ListParticipants(ctx, room)
		if err == nil && !slices.ContainsFunc(ps, func(p *livekit.ParticipantInfo) bool { return p.Identity == identity }) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%q still in room %q after leaving (last error: %v)", identity, room, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestBoundaryNamesJoinByteExact(t *testing.T) {
	s := env(t)
	sfx := unique("")[1:] // 8 hex characters, keeps rooms of different runs apart
	cases := []struct {
		name           string
		room, identity string
		display        string
	}{
		{"256 ASCII bytes", strings.Repeat("r", 248) + sfx, strings.Repeat("i", 256), strings.Repeat("n", 256)},
		{"256 bytes of 3-byte UTF-8", strings.Repeat("日", 82) + "_" + sfx + "x", strings.Repeat("日", 85) + "x", strings.Repeat("名", 85) + "x"},
		{"256 bytes of emoji", strings.Repeat("🎙", 62) + sfx, strings.Repeat("🎧", 64), strings.Repeat("😀", 64)},
		{"emoji sequences and combining marks", "👩🏽‍💻 équipe e\u0301 " + sfx, "👨‍👩‍👧‍👦 família", "Zoë 🇫🇷"},
		{"right-to-left and CJK scripts", "غرفة الاجتماع " + sfx, "مستخدم-٤٢", "ユーザー 用户 사용자"},
		{"punctuation", `a/b?c&d=e%f 'quoted' "dq" <x> ` + sfx, `user:42@example.com+tag ~!$^*()[]{}|\;,.` + "`", `O'Brien & "Sons" <b>x</b> 100%`},
		{"surrounding spaces kept", "  spaced room " + sfx + "  ", " padded id ", " Ada "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.room) > 256 || len(c.identity) > 256 || len(c.display) > 256 {
				t.Fatalf("case exceeds 256 bytes: room %d, identity %d, name %d", len(c.room), len(c.identity), len(c.display))
			}
			ctx := ctxFor(t, 2*time.Minute)
			resp := mint(ctx, t, s, s.lktoken, &lktokenv1.GenerateTokenRequest{
				RoomName: c.room, ParticipantIdentity: c.identity, ParticipantName: &c.display,
			})
			join(ctx, t, s, resp.Token, c.room, c.identity, c.display)
			ps, err := s.livekit.ListParticipants(ctx, c.room)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 {
				t.Fatalf("ListParticipants: %d participants, want 1", len(ps))
			}
			checkParticipant(t, "ListParticipants", ps[0], c.identity, c.display)
		})
	}

	// One byte over LiveKit's limit is refused by lktoken itself, before any
	// token exists: what LiveKit would refuse, we never mint.
	t.Run("257 bytes refused by lktoken", func(t *testing.T) {
		ctx := ctxFor(t, time.Minute)
		for _, req := range []*lktokenv1.GenerateTokenRequest{
			{RoomName: strings.Repeat("日", 85) + "xy", ParticipantIdentity: "user-42"},
			{RoomName: unique("standup"), ParticipantIdentity: strings.Repeat("i", 257)},
		} {
			_, err := s.lktoken.Client(nil).GenerateToken(ctx, req)
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("GenerateToken(room %d bytes, identity %d bytes): %v, want invalid_argument", len(req.RoomName), len(req.ParticipantIdentity), err)
			}
		}
	})
}

func TestLifetimeAskedIsLifetimeSigned(t *testing.T) {
	s := env(t)
	for _, c := range []struct {
		asked *uint32
		want  time.Duration
	}{
		{proto.Uint32(60), time.Minute},
		{proto.Uint32(86400), 24 * time.Hour},
		{nil, time.Hour},
	} {
		t.Run(fmt.Sprint(c.want), func(t *testing.T) {
			ctx := ctxFor(t, 2*time.Minute)
			room, identity := unique("lifetime"), "user-42"
			resp := mint(ctx, t, s, s.lktoken, &lktokenv1.GenerateTokenRequest{
				RoomName: room, ParticipantIdentity: identity, ExpirationSeconds: c.asked,
			})
			// The server accepts this very token...
			join(ctx, t, s, resp.Token, room, identity, "")
			// ...and it says, under the server's own secret, exp - iat = asked.
			v, err := auth.ParseAPIToken(resp.Token)
			if err != nil {
				t.Fatal(err)
			}
			claims, grants, err := v.Verify(s.creds.APISecret)
			if err != nil {
				t.Fatalf("verify with the server's secret: %v", err)
			}
			if got := claims.ExpiresAt.Sub(claims.IssuedAt.Time); got != c.want {
				t.Errorf("exp - iat = %s, want %s", got, c.want)
			}
			if !claims.ExpiresAt.Equal(resp.ExpiresAt.AsTime()) {
				t.Errorf("exp %s, response expires_at %s", claims.ExpiresAt.Time, resp.ExpiresAt.AsTime())
			}
			if grants.Video.Room != room || claims.Subject != identity {
				t.Errorf("token for room %q, subject %q; want %q, %q", grants.Video.Room, claims.Subject, room, identity)
			}
		})
	}
}

// TestHundredConcurrentClients: 100 clients each fetch a token and join the
// same room at once; every one is admitted, and the server lists all 100 with
// lktoken's permissions.
func TestHundredConcurrentClients(t *testing.T) {
	const n = 100
	s := env(t)
	ctx := ctxFor(t, 5*time.Minute)
	room := unique("crowd")
	// One client, as a frontend fleet behind one proxy would share; enough
	// idle connections that none is torn down between requests.
	httpClient := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	client := s.lktoken.Client(httpClient)

	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		conns []*harness.SignalConn
	)
	for i := range n {
		wg.Go(func() {
			identity := fmt.Sprintf("listener-%03d", i)
			<-start
			resp, err := client.GenerateToken(ctx, &lktokenv1.GenerateTokenRequest{RoomName: room, ParticipantIdentity: identity})
			if err == nil {
				var sc *harness.SignalConn
				sc, err = harness.Join(ctx, s.livekit.WSURL, resp.Token)
				if err == nil {
					mu.Lock()
					conns = append(conns, sc)
					mu.Unlock()
					if got := sc.Join.GetParticipant().GetIdentity(); got != identity {
						err = fmt.Errorf("joined as %q", got)
					}
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", identity, err))
				mu.Unlock()
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d clients fetched a token and joined in %s", n, time.Since(began).Round(time.Millisecond))
	defer func() {
		var closing sync.WaitGroup
		for _, sc := range conns {
			closing.Go(func() { _ = sc.Close() })
		}
		closing.Wait()
	}()
	if len(errs) > 0 {
		t.Fatalf("%d of %d clients failed:\n%v", len(errs), n, errors.Join(errs...))
	}

	ps, err := s.livekit.ListParticipants(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != n {
		t.Fatalf("ListParticipants: %d participants, want %d", len(ps), n)
	}
	slices.SortFunc(ps, func(a, b *livekit.ParticipantInfo) int { return strings.Compare(a.Identity, b.Identity) })
	for i, p := range ps {
		checkParticipant(t, "ListParticipants", p, fmt.Sprintf("listener-%03d", i), "")
	}
}

// liveKitLeeway is how far past exp livekit-server still accepts a token
// (livekit/protocol/auth's tokenLeeway, one minute).
const liveKitLeeway = time.Minute

// TestServerRefusesTokenAfterExp: the lifetime is not only written into the
// token, the server enforces it. A 60-second token is accepted at once and
// refused once exp and LiveKit's leeway have passed. It waits about two
// minutes (skipped by -short; in parallel with the rest otherwise); no timing
// is asserted beyond "after exp + leeway, refused".
func TestServerRefusesTokenAfterExp(t *testing.T) {
	if testing.Short() {
		t.Skip("waits two minutes for the token to expire: skipped with -short")
	}
	t.Parallel()
	s := env(t)
	ctx := ctxFor(t, 5*time.Minute)
	resp := mint(ctx, t, s, s.lktoken, &lktokenv1.GenerateTokenRequest{
		RoomName: unique("lifetime"), ParticipantIdentity: "user-42", ExpirationSeconds: proto.Uint32(60),
	})
	if status, body, err := s.livekit.Validate(ctx, resp.Token); err != nil || status != http.StatusOK {
		t.Fatalf("validate fresh token: HTTP %d %q %v, want 200", status, body, err)
	}
	refuseAt := resp.ExpiresAt.AsTime().Add(liveKitLeeway + 5*time.Second)
	t.Logf("waiting until %s (exp + leeway + 5s) to see the token refused", refuseAt.Format(time.RFC3339))
	select {
	case <-time.After(time.Until(refuseAt)):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	status, body, err := s.livekit.Validate(ctx, resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Errorf("validate expired token: HTTP %d %q, want 401 saying it is expired", status, body)
	}
}
