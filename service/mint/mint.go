package mint

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/lktoken/lktoken/service/keys"
)

// Request is what a caller may choose about a token, already validated.
type Request struct {
	Room     string
	Identity string
	Name     string
	// Lifetime is how long the token is valid; it must be positive.
	Lifetime time.Duration
	// Metadata and Attributes are attached to the participant as given.
	Metadata   string
	Attributes map[string]string
	// Agents are dispatched to the room when this participant creates it
	// (the token's roomConfig.agents); nil dispatches none.
	Agents []*livekit.RoomAgentDispatch
}

// Token is a signed token and what it was minted for.
type Token struct {
	JWT      string
	Room     string
	Identity string
	// Name is the display name the token carries ("" for none).
	Name      string
	ExpiresAt time.Time
	// Lifetime is what was granted: ExpiresAt less the issue time.
	Lifetime time.Duration
}

// ErrSigning wraps every failure inside token signing. Its text is safe to
// show: it never includes the secret or claims.
var ErrSigning = errors.New("token signing failed")

// JoinGrant is the only permission lktoken grants: join one room, publish
// the microphone and nothing else, subscribe, no data messages. Every *bool is
// set, because LiveKit reads nil as "server default", which grants more.
func JoinGrant(room string) *auth.VideoGrant {
	yes, no := true, false
	return &auth.VideoGrant{
		RoomJoin:          true,
		Room:              room,
		CanPublish:        &yes,
		CanPublishSources: []string{"microphone"},
		CanSubscribe:      &yes,
		CanPublishData:    &no,
	}
}

// tokenParts is what Sign allocates for one token: what its claims point
// to. joinGrant fills grant exactly as JoinGrant builds it
// (TestJoinGrantInPartsIsJoinGrant).
type tokenParts struct {
	iat, exp jwt.NumericDate
	grant    auth.VideoGrant
	yes, no  bool
	sources  [1]string
}

func (p *tokenParts) joinGrant(room string) {
	p.yes, p.no, p.sources = true, false, [1]string{"microphone"}
	p.grant = auth.VideoGrant{
		RoomJoin:          true,
		Room:              room,
		CanPublish:        &p.yes,
		CanPublishSources: p.sources[:],
		CanSubscribe:      &p.yes,
		CanPublishData:    &p.no,
	}
}

// claims is the JWT body, composed exactly like livekit/protocol's
// auth.AccessToken: registered claims plus LiveKit's ClaimGrants. We sign it
// ourselves because auth.AccessToken reads the wall clock internally (minting
// here takes the time as an argument) and to sign fast (signer.go).
type claims struct {
	jwt.RegisteredClaims
	auth.ClaimGrants
}

// Sign signs a join token for req with creds at time now. It is a pure
// function of its arguments: no I/O, no clock, no globals.
func Sign(creds keys.Credentials, req Request, now time.Time) (Token, error) {
	if creds.APIKey == "" || creds.APISecret == "" {
		return Token{}, errors.Join(ErrSigning, auth.ErrKeysMissing)
	}
	if req.Lifetime <= 0 {
		return Token{}, errors.Join(ErrSigning, errors.New("lifetime must be positive"))
	}
	issued := now.Truncate(time.Second)
	expires := issued.Add(req.Lifetime)
	// One allocation for everything the claims point to, instead of seven
	// (the three dates, the grant, its booleans and sources). The claims
	// themselves stay on the stack.
	p := &tokenParts{
		iat: jwt.NumericDate{Time: issued.Truncate(jwt.TimePrecision)},
		exp: jwt.NumericDate{Time: expires.Truncate(jwt.TimePrecision)},
	}
	p.joinGrant(req.Room)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    creds.APIKey,
			Subject:   req.Identity,
			IssuedAt:  &p.iat,
			NotBefore: &p.iat,
			ExpiresAt: &p.exp,
		},
		ClaimGrants: auth.ClaimGrants{
			Identity: req.Identity,
			Name:     req.Name,
			Video:    &p.grant,
			Metadata: req.Metadata,
		},
	}
	if len(req.Attributes) > 0 {
		c.Attributes = req.Attributes // only read, by the signer, before we return
	}
	if len(req.Agents) > 0 {
		// Only agent dispatch: every other room setting stays the server's.
		rc := &livekit.RoomConfiguration{}
		for _, a := range req.Agents {
			rc.Agents = append(rc.Agents, &livekit.RoomAgentDispatch{
				AgentName:  a.GetAgentName(),
				Metadata:   a.GetMetadata(),
				Deployment: a.GetDeployment(),
			})
		}
		c.RoomConfig = (*auth.RoomConfiguration)(rc)
	}
	signed, err := signHS256(&c, creds.APISecret)
	if err != nil {
		return Token{}, errors.Join(ErrSigning, err)
	}
	return Token{JWT: signed, Room: req.Room, Identity: req.Identity, Name: req.Name, ExpiresAt: expires, Lifetime: req.Lifetime}, nil
}
