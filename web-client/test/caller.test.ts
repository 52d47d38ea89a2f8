// The token cache follows its caller: tokenSource hands a cached token only
// to the caller it was minted for, keyed on the access token's iss and sub
// (a JWT) or its SHA-256 (an opaque token), never on the token itself.
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { createTokenClient } from "../src/index.js";
import { callerKey } from "../src/caller.js";
import { tokenSource } from "../src/livekit.js";

/** An unsigned JWT with these claims (the client never verifies: lktoken does). */
function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

/**
 * A real client from createTokenClient over a fake fetch that answers every
 * call with a new token for the identity its bearer token names.
 */
function server(session: { token: string | undefined }) {
  const seen: (string | null)[] = [];
  const client = createTokenClient("http://tokens.test", {
    getAccessToken: () => session.token,
    fetch: async (input, init) => {
      const auth = new Request(input, init).headers.get("Authorization");
      seen.push(auth);
      const who = auth === null ? "anonymous" : `caller-${seen.length}`;
      return new Response(
        JSON.stringify({ token: `token-${seen.length}`, roomName: "r", participantIdentity: who, serverUrl: "ws://x", expiresAt: "2099-01-01T00:00:00Z" }),
        { status: 200, headers: { "Content-Type": "application/json" } },
      );
    },
  });
  return { client, seen };
}

describe("callerKey", () => {
  it("is empty without an access token", async () => {
    for (const none of [undefined, null, ""]) {
      expect(await callerKey(none)).toBe("");
    }
  });

  it("is a JWT's iss and sub, the same for a refreshed token of the same person", async () => {
    const first = jwt({ iss: "https://idp/", sub: "ada", exp: 1 });
    const refreshed = jwt({ iss: "https://idp/", sub: "ada", exp: 2 });
    expect(await callerKey(first)).toBe('jwt:["https://idp/","ada"]');
    expect(await callerKey(refreshed)).toBe(await callerKey(first));
    expect(await callerKey(jwt({ iss: "https://other/", sub: "ada" }))).not.toBe(await callerKey(first));
  });

  it("is the SHA-256 of an opaque token, or of a JWT without a subject, never the token", async () => {
    for (const token of ["opaque-access-token-0123456789", jwt({ iss: "https://idp/" }), "a.b.c"]) {
      const key = await callerKey(token);
      expect(key).toBe(`sha256:${createHash("sha256").update(token).digest("hex")}`);
      expect(key).not.toContain(token);
    }
  });
});

describe("tokenSource follows its caller", () => {
  it("never hands one caller's cached token to another (the client's getAccessToken, JWTs)", async () => {
    const session: { token: string | undefined } = { token: jwt({ iss: "https://idp/", sub: "ada" }) };
    const { client, seen } = server(session);
    const source = tokenSource(client, { roomName: "r" });
    expect((await source.fetch()).participantToken).toBe("token-1");
    // Ada's refreshed access token: still Ada, the cached token serves.
    session.token = jwt({ iss: "https://idp/", sub: "ada", exp: 99 });
    expect((await source.fetch()).participantToken).toBe("token-1");
    // Signed out, then Grace signed in: a token of her own.
    session.token = undefined;
    expect((await source.fetch()).participantToken).toBe("token-2");
    session.token = jwt({ iss: "https://idp/", sub: "grace" });
    expect((await source.fetch()).participantToken).toBe("token-3");
    expect(source.lastResponse?.participantIdentity).toBe("caller-3");
    expect(seen).toEqual([`Bearer ${jwt({ iss: "https://idp/", sub: "ada" })}`, null, `Bearer ${session.token}`]);
  });

  it("keys opaque access tokens by their hash, and takes a getter of its own", async () => {
    const session: { token: string | undefined } = { token: undefined };
    const { client } = server(session);
    let opaque = "opaque-one";
    const source = tokenSource(client, { roomName: "r" }, { getAccessToken: () => opaque });
    expect((await source.fetch()).participantToken).toBe("token-1");
    expect((await source.fetch()).participantToken).toBe("token-1");
    opaque = "opaque-two";
    expect((await source.fetch()).participantToken).toBe("token-2");
  });

  it("invalidate() forgets the cached token, and a fetch in flight does not cache its answer", async () => {
    const session = { token: jwt({ sub: "ada" }) };
    const { client } = server(session);
    const source = tokenSource(client, { roomName: "r" });
    expect((await source.fetch()).participantToken).toBe("token-1");
    source.invalidate();
    expect(source.lastResponse).toBeUndefined();
    expect((await source.fetch()).participantToken).toBe("token-2");

    const inFlight = source.fetch({}, true);
    await Promise.resolve(); // the fetch has started
    source.invalidate();
    expect((await inFlight).participantToken).toBe("token-3");
    expect((await source.fetch()).participantToken).toBe("token-4");
  });
});
