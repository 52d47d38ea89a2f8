import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { TokenSourceConfigurable, TokenSourceFetchOptions } from "livekit-client";
import { Code, GenerateTokenResponseSchema, RateLimitedError, type GenerateTokenRequest, type TokenClient } from "../src/index.js";
import { tokenSource, type TokenRequestInit } from "../src/livekit.js";

/** A fake client: records requests, answers a token valid for `lifetimeS` from the fake clock. */
function fakeClient(clock: { ms: number }, lifetimeS = 3600) {
  const requests: TokenRequestInit[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const client = {
    async generateToken(req: Partial<GenerateTokenRequest>) {
      requests.push(req);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      if (req.roomName === "fail") {
        throw new Error("refused");
      }
      return create(GenerateTokenResponseSchema, {
        token: `token-${requests.length}`,
        serverUrl: "ws://livekit.test",
        roomName: req.roomName ?? "",
        participantIdentity: req.participantIdentity ?? "",
        expiresAt: timestampFromMs(clock.ms + lifetimeS * 1000),
      });
    },
  } as unknown as TokenClient;
  return { client, requests, maxInFlight: () => maxInFlight };
}

describe("tokenSource", () => {
  it("is a livekit-client TokenSourceConfigurable answering { serverUrl, participantToken }", async () => {
    const clock = { ms: 1_000_000 };
    const { client, requests } = fakeClient(clock);
    const source: TokenSourceConfigurable = tokenSource(client, { participantIdentity: "u", expirationSeconds: 600 }, { now: () => clock.ms });
    expect(await source.fetch({ roomName: "standup", participantName: "Ada" })).toEqual({
      serverUrl: "ws://livekit.test",
      participantToken: "token-1",
    });
    expect(requests).toEqual([{ participantIdentity: "u", expirationSeconds: 600, roomName: "standup", participantName: "Ada" }]);
  });

  it("reuses the token until 60 s before it expires, then fetches a fresh one", async () => {
    const clock = { ms: 1_000_000 };
    const { client, requests } = fakeClient(clock, 120);
    const source = tokenSource(client, { roomName: "r", participantIdentity: "u" }, { now: () => clock.ms });
    expect((await source.fetch()).participantToken).toBe("token-1");
    clock.ms += 59_999;
    expect((await source.fetch()).participantToken).toBe("token-1");
    clock.ms += 1;
    expect((await source.fetch()).participantToken).toBe("token-2");
    expect(requests).toHaveLength(2);
    expect(source.lastResponse?.token).toBe("token-2");
  });

  it("fetches again when the request changes (options or the request function), and when forced", async () => {
    const clock = { ms: 1_000_000 };
    const { client, requests } = fakeClient(clock);
    let identity = "u1";
    const source = tokenSource(client, () => ({ participantIdentity: identity }), { now: () => clock.ms });
    const opts: TokenSourceFetchOptions = { roomName: "r", participantAttributes: { a: "1", b: "2" } };
    await source.fetch(opts);
    await source.fetch({ roomName: "r", participantAttributes: { b: "2", a: "1" } }); // same, other key order
    expect(requests).toHaveLength(1);
    await source.fetch({ roomName: "other" });
    expect(requests).toHaveLength(2);
    identity = "u2";
    await source.fetch({ roomName: "other" });
    expect(requests).toHaveLength(3);
    expect(requests[2]?.participantIdentity).toBe("u2");
    await source.fetch({ roomName: "other" }, true);
    expect(requests).toHaveLength(4);
  });

  it("runs one fetch at a time: concurrent callers share the first token", async () => {
    const clock = { ms: 1_000_000 };
    const { client, requests, maxInFlight } = fakeClient(clock);
    const source = tokenSource(client, { roomName: "r", participantIdentity: "u" }, { now: () => clock.ms });
    const got = await Promise.all([source.fetch(), source.fetch(), source.fetch()]);
    expect(got.map((g: { participantToken: string }) => g.participantToken)).toEqual(["token-1", "token-1", "token-1"]);
    expect(requests).toHaveLength(1);
    expect(maxInFlight()).toBe(1);
  });

  it("does not cache a failure, and a failure does not block the next fetch", async () => {
    const clock = { ms: 1_000_000 };
    const { client, requests } = fakeClient(clock);
    const source = tokenSource(client, { participantIdentity: "u" }, { now: () => clock.ms });
    await expect(source.fetch({ roomName: "fail" })).rejects.toThrow("refused");
    expect((await source.fetch({ roomName: "ok" })).participantToken).toBe("token-2");
    expect(requests).toHaveLength(2);
  });

  it("passes agentName, agentMetadata and deployment through as roomConfig.agents[0], and caches per agent", async () => {
    const clock = { ms: 1_000_000 };
    const { client, requests } = fakeClient(clock);
    const source = tokenSource(client, { roomName: "r", participantIdentity: "u" }, { now: () => clock.ms });
    await source.fetch({ agentName: "helper", agentMetadata: '{"lang":"en"}' });
    await source.fetch({ agentName: "helper", agentMetadata: '{"lang":"en"}' });
    expect(requests).toHaveLength(1);
    await source.fetch({ agentName: "helper", deployment: "staging" });
    await source.fetch({ agentName: "notetaker" });
    await source.fetch({});
    expect(requests).toEqual([
      { roomName: "r", participantIdentity: "u", roomConfig: { agents: [{ agentName: "helper", metadata: '{"lang":"en"}' }] } },
      { roomName: "r", participantIdentity: "u", roomConfig: { agents: [{ agentName: "helper", deployment: "staging" }] } },
      { roomName: "r", participantIdentity: "u", roomConfig: { agents: [{ agentName: "notetaker" }] } },
      { roomName: "r", participantIdentity: "u" },
    ]);
  });

  it("lays the options' agent over the request's first one and keeps the others", async () => {
    const clock = { ms: 1_000_000 };
    const { client, requests } = fakeClient(clock);
    const base: TokenRequestInit = {
      roomName: "r",
      participantIdentity: "u",
      roomConfig: { agents: [{ agentName: "helper", metadata: "m" }, { agentName: "notetaker" }] },
    };
    const source = tokenSource(client, base, { now: () => clock.ms });
    await source.fetch({ agentMetadata: "other" });
    await source.fetch();
    expect(requests.map((r) => r.roomConfig)).toEqual([
      { agents: [{ agentName: "helper", metadata: "other" }, { agentName: "notetaker" }] },
      { agents: [{ agentName: "helper", metadata: "m" }, { agentName: "notetaker" }] },
    ]);
  });
});

describe("tokenSource under a rate limit", () => {
  it("surfaces RateLimitedError with the delay and does not ask again before it has passed", async () => {
    const clock = { ms: 1_000_000 };
    let calls = 0;
    const client = {
      async generateToken() {
        calls++;
        if (calls === 1) {
          const err = new RateLimitedError("rate limited", Code.ResourceExhausted);
          err.retryAfterMs = 3000;
          throw err;
        }
        return create(GenerateTokenResponseSchema, { token: "fresh", serverUrl: "ws://livekit.test", expiresAt: timestampFromMs(clock.ms + 3_600_000) });
      },
    } as unknown as TokenClient;
    const source = tokenSource(client, { roomName: "r", participantIdentity: "u" }, { now: () => clock.ms });
    const first = await source.fetch().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(RateLimitedError);
    expect((first as RateLimitedError).retryAfterMs).toBe(3000);
    clock.ms += 1000;
    const second = await source.fetch().catch((e: unknown) => e);
    expect((second as RateLimitedError).retryAfterMs).toBe(2000);
    expect(calls).toBe(1);
    clock.ms += 2000;
    expect((await source.fetch()).participantToken).toBe("fresh");
    expect(calls).toBe(2);
  });
});
