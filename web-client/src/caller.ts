// Who calls lktoken, as the web client's token cache sees it. A module of
// its own without dependencies, so that the livekit entry point adds no
// Connect code to a bundle by importing it.
import type { AccessTokenGetter } from "./client.js";

/** The access-token getter each client from createTokenClient sends with. */
const getters = new WeakMap<object, AccessTokenGetter>();

/** Records the getter `client` sends its access token with (createTokenClient). */
export function rememberAccessTokenGetter(client: object, getAccessToken: AccessTokenGetter): void {
  getters.set(client, getAccessToken);
}

/** The getter `client` was created with, if any. */
export function accessTokenGetterOf(client: object): AccessTokenGetter | undefined {
  return getters.get(client);
}

/**
 * A cache key for the caller holding `accessToken`, never the token itself:
 * `""` without one; for a JWT, its `iss` and `sub` (so a refreshed token of
 * the same person keeps the cache); for any other token, its SHA-256.
 * The JWT is not verified: lktoken does that. A forged one can only mislead
 * the cache of the page that holds it.
 */
export async function callerKey(accessToken: string | null | undefined): Promise<string> {
  if (!accessToken) {
    return "";
  }
  const parts = accessToken.split(".");
  if (parts.length === 3) {
    try {
      const json = atob(parts[1]!.replace(/-/g, "+").replace(/_/g, "/"));
      const claims = JSON.parse(json) as { iss?: unknown; sub?: unknown };
      if (typeof claims.sub === "string" && claims.sub !== "") {
        return `jwt:${JSON.stringify([typeof claims.iss === "string" ? claims.iss : "", claims.sub])}`;
      }
    } catch {
      // not a JWT after all: hashed below
    }
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
