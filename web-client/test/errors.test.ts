import { describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import {
  Code,
  ConnectError,
  createTokenClient,
  PermissionDeniedError,
  RateLimitedError,
  tokenErrorOf,
  violationsFromError,
} from "../src/index.js";
import * as validation from "../src/validation.js";

describe("violationsFromError", () => {
  it("maps a Violations detail from proto names to the TypeScript field names", () => {
    const detail = create(ViolationsSchema, {
      violations: [
        { field: { elements: [{ fieldName: "room_name", fieldNumber: 1 }] }, ruleId: "string.label.not_blank", message: "must not be only whitespace" },
        { field: { elements: [{ fieldName: "participant_identity", fieldNumber: 2 }] }, ruleId: "no_hash", message: "no #" },
        { field: { elements: [{ fieldName: "participant_identity", fieldNumber: 2 }] }, ruleId: "x", message: "second" },
        { field: { elements: [{ fieldName: "not_in_schema" }] }, message: "kept as it came" },
      ],
    });
    const err = new ConnectError("bad", Code.InvalidArgument, undefined, [{ desc: ViolationsSchema, value: detail }]);
    expect(violationsFromError(err)).toEqual({
      roomName: "must not be only whitespace",
      participantIdentity: "no #; second",
      not_in_schema: "kept as it came",
    });
  });

  it("gives {} for errors that carry no field errors", () => {
    expect(violationsFromError(new ConnectError("boom", Code.Internal))).toEqual({});
    expect(violationsFromError(new ConnectError("no detail", Code.InvalidArgument))).toEqual({});
    expect(violationsFromError(new TypeError("Failed to fetch"))).toEqual({});
    expect(violationsFromError("a string")).toEqual({});
  });
});

describe("createTokenClient client-side validation", () => {
  // A fetch that records calls: the point is that a refused request never
  // reaches the network.
  function recordingFetch(calls: string[]): typeof globalThis.fetch {
    return async (input) => {
      calls.push(String(input instanceof Request ? input.url : input));
      throw new Error("the network must not be used");
    };
  }

  it("refuses a bad request with the server's error shape and makes no request", async () => {
    const calls: string[] = [];
    const client = createTokenClient("http://127.0.0.1:9", { fetch: recordingFetch(calls), validate: validation });
    const err = await client.generateToken({ roomName: "\u202e", participantIdentity: "a#b", expirationSeconds: 59 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    const cerr = err as ConnectError;
    expect(cerr.code).toBe(Code.InvalidArgument);
    expect(cerr.rawMessage).toBe(
      "room_name: must not contain control or bidirectional-override characters; " +
        "participant_identity: must not contain '#' (LiveKit reserves it in identities); " +
        "expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400",
    );
    expect(violationsFromError(err)).toEqual({
      roomName: "must not contain control or bidirectional-override characters",
      participantIdentity: "must not contain '#' (LiveKit reserves it in identities)",
      expirationSeconds: "must be greater than or equal to 60 and less than or equal to 86400",
    });
    expect(calls).toEqual([]);
  });

  it("loads the validation entry on first use, once", async () => {
    const calls: string[] = [];
    let loads = 0;
    const client = createTokenClient("http://127.0.0.1:9", {
      fetch: recordingFetch(calls),
      validate: () => {
        loads++;
        return import("../src/validation.js");
      },
    });
    expect(loads).toBe(0);
    await expect(client.generateToken({ roomName: " ", participantIdentity: "u" })).rejects.toThrow(
      "room_name: must not be only whitespace",
    );
    await expect(client.generateToken({ roomName: "r", participantIdentity: "a#" })).rejects.toThrow("participant_identity");
    expect(loads).toBe(1);
    expect(calls).toEqual([]);
  });

  it("sends the request unchecked when the validation entry fails to load, and retries the load", async () => {
    const calls: string[] = [];
    let loads = 0;
    const client = createTokenClient("http://127.0.0.1:9", {
      fetch: recordingFetch(calls),
      validate: () => {
        loads++;
        return Promise.reject(new Error("chunk load failed"));
      },
    });
    await expect(client.generateToken({ roomName: " ", participantIdentity: "u" })).rejects.toThrow("the network must not be used");
    await expect(client.generateToken({ roomName: " ", participantIdentity: "u" })).rejects.toThrow("the network must not be used");
    expect(loads).toBe(2);
    expect(calls).toHaveLength(2);
  });

  // An empty participantIdentity is the one rule that depends on the server:
  // one with OpenID Connect fills it from the caller's access token.
  it("with getAccessToken, an empty identity goes out (the server fills it from the token)", async () => {
    const calls: string[] = [];
    const client = createTokenClient("http://127.0.0.1:9", {
      fetch: recordingFetch(calls),
      validate: validation,
      getAccessToken: () => "access-token",
    });
    await expect(client.generateToken({ roomName: "standup" })).rejects.toThrow("the network must not be used");
    // An identity that is given is still checked.
    await expect(client.generateToken({ roomName: "standup", participantIdentity: "a#b" })).rejects.toThrow(
      "participant_identity: must not contain '#'",
    );
    expect(calls).toHaveLength(1);
  });

  it("without getAccessToken, or with identityFromToken: false, an empty identity is refused as the server refuses it", async () => {
    const calls: string[] = [];
    const clients = [
      createTokenClient("http://127.0.0.1:9", { fetch: recordingFetch(calls), validate: validation }),
      // A server in static bearer-token mode (LKTOKEN_BEARER_TOKEN) has no verified identity.
      createTokenClient("http://127.0.0.1:9", {
        fetch: recordingFetch(calls),
        validate: validation,
        getAccessToken: () => "static-token",
        identityFromToken: false,
      }),
    ];
    for (const client of clients) {
      const err = await client.generateToken({ roomName: "standup", participantIdentity: "" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toBe("participant_identity: value is required");
      expect(violationsFromError(err)).toEqual({ participantIdentity: "value is required" });
    }
    expect(calls).toEqual([]);
  });

  it("identityFromToken: true without getAccessToken (a token sent by an interceptor)", async () => {
    const calls: string[] = [];
    const client = createTokenClient("http://127.0.0.1:9", {
      fetch: recordingFetch(calls),
      validate: () => import("../src/validation.js"),
      identityFromToken: true,
    });
    await expect(client.generateToken({ roomName: "standup" })).rejects.toThrow("the network must not be used");
    expect(calls).toHaveLength(1);
  });

  it("sends a valid request, and a bad one when validation is off (the default)", async () => {
    const calls: string[] = [];
    const on = createTokenClient("http://127.0.0.1:9", { fetch: recordingFetch(calls), validate: validation });
    await expect(on.generateToken({ roomName: "r", participantIdentity: "u" })).rejects.toThrow();
    const off = createTokenClient("http://127.0.0.1:9", { fetch: recordingFetch(calls) });
    await expect(off.generateToken({ roomName: " ", participantIdentity: "u" })).rejects.toThrow();
    expect(calls).toEqual([
      "http://127.0.0.1:9/lktoken.v1.TokenService/GenerateToken",
      "http://127.0.0.1:9/lktoken.v1.TokenService/GenerateToken",
    ]);
  });
});

describe("typed errors", () => {
  function answering(status: number, body: unknown): typeof globalThis.fetch {
    return async () => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  }

  it("permission_denied becomes a PermissionDeniedError the form can show", async () => {
    const client = createTokenClient("http://tokens.test", {
      fetch: answering(403, { code: "permission_denied", message: 'room "board" is not allowed for this caller' }),
    });
    const err = await client.generateToken({ roomName: "board", participantIdentity: "u" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as PermissionDeniedError).kind).toBe("permission_denied");
    expect(tokenErrorOf(err)).toEqual({ kind: "permission_denied", message: 'room "board" is not allowed for this caller' });
  });

  it("invalid_argument from the server gives the field errors; other codes stay ConnectErrors", async () => {
    const detail = toBinary(
      ViolationsSchema,
      create(ViolationsSchema, { violations: [{ field: { elements: [{ fieldName: "room_name" }] }, message: "must not be only whitespace" }] }),
    );
    const bad = createTokenClient("http://tokens.test", {
      fetch: answering(400, {
        code: "invalid_argument",
        message: "room_name: must not be only whitespace",
        details: [{ type: "buf.validate.Violations", value: Buffer.from(detail).toString("base64").replace(/=+$/, "") }],
      }),
    });
    const err = await bad.generateToken({ roomName: " ", participantIdentity: "u" }).catch((e: unknown) => e);
    expect(tokenErrorOf(err)).toEqual({
      kind: "invalid_argument",
      fields: { roomName: "must not be only whitespace" },
      message: "room_name: must not be only whitespace",
    });
    const down = createTokenClient("http://tokens.test", { fetch: answering(500, { code: "internal", message: "signing failed" }) });
    const err2 = await down.generateToken({ roomName: "r", participantIdentity: "u" }).catch((e: unknown) => e);
    expect(err2).not.toBeInstanceOf(PermissionDeniedError);
    expect(tokenErrorOf(err2)).toEqual({ kind: "other", code: Code.Internal, message: "signing failed" });
  });
});

describe("rate limited", () => {
  // google.rpc.RetryInfo { retry_delay: { seconds: 12, nanos: 500000000 } } on the wire.
  const retryInfo = Buffer.from([0x0a, 0x08, 0x08, 0x0c, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01]).toString("base64").replace(/=+$/, "");

  function limited(details: unknown[], headers: Record<string, string> = {}): typeof globalThis.fetch {
    return async () =>
      new Response(JSON.stringify({ code: "resource_exhausted", message: "rate limited: try again in 13 s", details }), {
        status: 429,
        headers: { "Content-Type": "application/json", ...headers },
      });
  }

  it("a 429 with RetryInfo becomes a RateLimitedError carrying the delay", async () => {
    const client = createTokenClient("http://tokens.test", { fetch: limited([{ type: "google.rpc.RetryInfo", value: retryInfo }], { "Retry-After": "13" }) });
    const err = await client.generateToken({ roomName: "r", participantIdentity: "u" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as RateLimitedError).retryAfterMs).toBe(12_500);
    expect(tokenErrorOf(err)).toEqual({ kind: "rate_limited", retryAfterMs: 12_500, message: "rate limited: try again in 13 s" });
  });

  it("without RetryInfo, Retry-After gives the delay; without either it is not a rate limit", async () => {
    const header = createTokenClient("http://tokens.test", { fetch: limited([], { "Retry-After": "7" }) });
    const err = await header.generateToken({ roomName: "r", participantIdentity: "u" }).catch((e: unknown) => e);
    expect((err as RateLimitedError).retryAfterMs).toBe(7_000);
    const tooLarge = createTokenClient("http://tokens.test", { fetch: limited([]) });
    const err2 = await tooLarge.generateToken({ roomName: "r", participantIdentity: "u" }).catch((e: unknown) => e);
    expect(err2).not.toBeInstanceOf(RateLimitedError);
    expect(tokenErrorOf(err2).kind).toBe("other");
  });
});
