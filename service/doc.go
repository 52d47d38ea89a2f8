// Package service implements lktoken: minting LiveKit access tokens, the
// GenerateToken Connect handler, request validation, audit logging,
// configuration and the HTTP server that serves it all on one port.
//
// The pieces compose in one direction: [Config] (from flags and environment)
// gives a [Policy] and [Credentials]; [MintToken] is a pure function of those,
// a request and a clock; [NewTokenService] wraps it as a Connect handler; and
// [NewHandler] wires the handler with validation, audit, CORS and health
// checks into an http.Handler that [Server] serves. The same handler serves
// LiveKit's standard token endpoint (POST /api/token, what every LiveKit SDK's
// TokenSource.endpoint speaks) through the same validator, Issuer and audit.
package service
