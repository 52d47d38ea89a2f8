package tokens

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
)

// sdkFixture is one row of docs/token-endpoint.md's conformance table: what
// one LiveKit client SDK's endpoint token source sends and reads, as its
// source (repository, commit, files) shows.
type sdkFixture struct {
	SDK        string `json:"sdk"`
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
	Files      []struct {
		Path   string `json:"path"`
		Commit string `json:"commit"`
	} `json:"files"`
	Request struct {
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
	// AcceptsStatus is the range of statuses the SDK takes as success
	// (inclusive); null when it checks none and only decodes the body.
	AcceptsStatus []int `json:"accepts_status"`
	Reads         []struct {
		Key      string `json:"key"`
		Also     string `json:"also"`
		Required bool   `json:"required"`
	} `json:"reads"`
}

func loadSDKFixtures(t *testing.T) map[string]sdkFixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "sdk", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no SDK fixtures (%v)", err)
	}
	out := map[string]sdkFixture{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f sdkFixture
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f.SDK == "" || f.Repository == "" || len(f.Commit) != 40 || len(f.Files) == 0 || f.Request.Body == "" || len(f.Reads) == 0 {
			t.Fatalf("%s: a fixture names its SDK, repository, commit, files, request and the keys it reads", p)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = f
	}
	return out
}

// TestEverySDKRequestAccepted replays each SDK's request, byte for byte and
// with its headers, against the real lktoken binary: the answer is 201 (a
// status the SDK accepts), has every key that SDK reads as a non-empty
// string, names the room and participant the token was minted for, and the
// token carries what was asked (room, name, agent) and is admitted by the
// real livekit-server.
func TestEverySDKRequestAccepted(t *testing.T) {
	s := env(t)
	fixtures := loadSDKFixtures(t)
	sdks := map[string]bool{}
	for name, f := range fixtures {
		sdks[f.SDK] = true
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			req, err := http.NewRequestWithContext(ctx, f.Request.Method, s.lktoken.URL+"/api/token", strings.NewReader(f.Request.Body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range f.Request.Headers {
				req.Header.Set(k, v)
			}
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("HTTP %d, want 201: %s", resp.StatusCode, raw)
			}
			if r := f.AcceptsStatus; r != nil && (len(r) != 2 || resp.StatusCode < r[0] || resp.StatusCode > r[1]) {
				t.Fatalf("%s accepts statuses %v, not %d", f.SDK, r, resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var answer map[string]any
			if err := json.Unmarshal(raw, &answer); err != nil {
				t.Fatalf("answer %q: %v", raw, err)
			}
			for _, k := range f.Reads {
				if v, ok := answer[k.Key].(string); !ok || v == "" {
					t.Errorf("%s reads %q: the answer has %v", f.SDK, k.Key, answer[k.Key])
				}
			}

			var asked livekit.TokenSourceRequest
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(f.Request.Body), &asked); err != nil {
				t.Fatal(err)
			}
			token, _ := answer["participant_token"].(string)
			v, err := auth.ParseAPIToken(token)
			if err != nil {
				t.Fatal(err)
			}
			_, grants, err := v.Verify(s.creds.APISecret)
			if err != nil {
				t.Fatal(err)
			}
			if grants.Video.Room != asked.GetRoomName() || grants.Name != asked.GetParticipantName() ||
				answer["room_name"] != grants.Video.Room || grants.Name != "" && answer["participant_name"] != grants.Name {
				t.Errorf("asked room %q name %q; token room %q name %q; answer %v", asked.GetRoomName(), asked.GetParticipantName(), grants.Video.Room, grants.Name, answer)
			}
			if id := asked.GetParticipantIdentity(); id != "" && grants.Identity != id {
				t.Errorf("identity %q, asked %q", grants.Identity, id)
			}
			var gotAgents, wantAgents []string
			for _, a := range grants.GetRoomConfiguration().GetAgents() {
				gotAgents = append(gotAgents, a.GetAgentName()+"|"+a.GetMetadata()+"|"+a.GetDeployment())
			}
			for _, a := range asked.GetRoomConfig().GetAgents() {
				wantAgents = append(wantAgents, a.GetAgentName()+"|"+a.GetMetadata()+"|"+a.GetDeployment())
			}
			if !slices.Equal(gotAgents, wantAgents) {
				t.Errorf("agents %q, asked %q", gotAgents, wantAgents)
			}
			if status, body, err := s.livekit.Validate(ctx, token); err != nil || status != http.StatusOK {
				t.Errorf("livekit-server validate: HTTP %d %q %v, want 200", status, body, err)
			}
		})
	}
	for _, want := range []string{"JavaScript (livekit-client)", "Swift", "Android (Kotlin)", "Flutter (Dart)", "Rust", "C++"} {
		if !sdks[want] {
			t.Errorf("no fixture for %s", want)
		}
	}
}
