// Package mint is lktoken's pure minting core: the one grant lktoken gives
// ([JoinGrant]), the token's claims, their signature ([Sign], a pure function
// of credentials, request and time, with a fast HS256 signer that writes the
// claims' JSON directly), and the [Issuer] that applies a server's [Policy]
// to a request that passed the contract's rules and signs it with the key its
// keys.Ring holds at that moment. No I/O, no HTTP, no clock but the one given.
package mint
