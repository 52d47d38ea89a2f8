// The client against the real lktoken binary: the server's verdict on every
// case of the table is the client's, field for field.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { toJson } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import {
  Code,
  ConnectError,
  createTokenClient,
  expiresAtDate,
  tokenErrorOf,
  UnauthenticatedError,
  violationsFromError,
  type TokenClient,
} from "../src/index.js";
import * as validation from "../src/validation.js";
import { validateTokenRequest } from "../src/validation.js";
import { cases } from "./cases.js";
import { lktokenBinary, startLktoken, type RunningLktoken } from "./support/lktoken.js";

let server: RunningLktoken;
let unchecked: TokenClient;
let checked: TokenClient;
const apiKey = `web-${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  server = await startLktoken(await lktokenBinary(), {
    LIVEKIT_API_KEY: apiKey,
    LIVEKIT_API_SECRET: randomBytes(32).toString("base64url"),
    LIVEKIT_URL: "ws://127.0.0.1:7880",
    LKTOKEN_ALLOWED_ORIGINS: "http://localhost:4200", // required outside --dev
  });
  unchecked = createTokenClient(server.baseUrl);
  checked = createTokenClient(server.baseUrl, { validate: validation });
});

afterAll(async () => {
  await server?.stop();
});

describe("the server's verdict equals the client's", () => {
  it.each(cases)("$name", async ({ request, errors }) => {
    expect(validateTokenRequest(request)).toEqual(errors);
    const got = await unchecked.generateToken(request).then(
      (res) => ({ res, err: undefined }),
      (err: unknown) => ({ res: undefined, err: ConnectError.from(err) }),
    );
    if (Object.keys(errors).length === 0) {
      expect(got.err).toBeUndefined();
      expect(got.res?.roomName).toBe(request.roomName);
      expect(got.res?.participantIdentity).toBe(request.participantIdentity);
      expect(got.res?.serverUrl).toBe("ws://127.0.0.1:7880");
      expect(got.res?.token.split(".")).toHaveLength(3);
      return;
    }
    expect(got.err?.code).toBe(Code.InvalidArgument);
    expect(violationsFromError(got.err)).toEqual(errors);
    // The client-side refusal is the same error, message included.
    const local = await checked.generateToken(request).then(
      () => undefined,
      (err: unknown) => ConnectError.from(err),
    );
    expect(local?.code).toBe(Code.InvalidArgument);
    expect(local?.rawMessage).toBe(got.err?.rawMessage);
    // And the same buf.validate.Violations detail: field and rule paths, rule
    // ids and messages, in the server's order.
    const detail = (e: ConnectError | undefined) => e?.findDetails(ViolationsSchema).map((v) => toJson(ViolationsSchema, v));
    expect(detail(local)).toEqual(detail(got.err));
    expect(detail(local)).toHaveLength(1);
  });
});

describe("a minted token", () => {
  it("carries the default lifetime of one hour", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await checked.generateToken({ roomName: "standup", participantIdentity: "user-42", participantName: "Ada" });
    const after = Math.ceil(Date.now() / 1000);
    const exp = Number(res.expiresAt?.seconds);
    expect(exp).toBeGreaterThanOrEqual(before + 3600);
    expect(exp).toBeLessThanOrEqual(after + 3600);
    const claims = JSON.parse(Buffer.from(res.token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
    expect(claims["iss"]).toBe(apiKey);
    expect(claims["sub"]).toBe("user-42");
    expect(claims["exp"]).toBe(exp);
    expect(expiresAtDate(res).getTime()).toBe(exp * 1000);
  });

  it("passes headers set by an interceptor (the seam for auth)", async () => {
    const requestId = `web-test-${randomBytes(4).toString("hex")}`;
    const seen: string[] = [];
    const client = createTokenClient(server.baseUrl, {
      interceptors: [
        (next) => async (req) => {
          req.header.set("X-Request-Id", requestId);
          const res = await next(req);
          seen.push(res.header.get("X-Request-Id") ?? "");
          return res;
        },
      ],
    });
    await client.generateToken({ roomName: "r", participantIdentity: "u" });
    expect(seen).toEqual([requestId]);
    // The audit line reaches us through a pipe, after the answer: wait for it.
    await expect.poll(() => server.logs.some((l) => Object.values(l).includes(requestId)), { timeout: 5000 }).toBe(true);
  });
});

describe("against a server in bearer-token mode (LKTOKEN_BEARER_TOKEN)", () => {
  const bearerToken = randomBytes(32).toString("base64url");
  let guarded: RunningLktoken;

  beforeAll(async () => {
    guarded = await startLktoken(await lktokenBinary(), {
      LIVEKIT_API_KEY: apiKey,
      LIVEKIT_API_SECRET: randomBytes(32).toString("base64url"),
      LIVEKIT_URL: "ws://127.0.0.1:7880",
      LKTOKEN_ALLOWED_ORIGINS: "http://localhost:4200",
      LKTOKEN_BEARER_TOKEN: bearerToken,
    });
  });

  afterAll(async () => {
    await guarded?.stop();
  });

  it("getAccessToken is called per request and its token admits the caller", async () => {
    const handedOut: string[] = [];
    let current = bearerToken;
    const client = createTokenClient(guarded.baseUrl, {
      getAccessToken: async () => {
        handedOut.push(current);
        return current;
      },
    });
    const res = await client.generateToken({ roomName: "r", participantIdentity: "u" });
    expect(res.token.split(".")).toHaveLength(3);
    current = "not-the-token";
    const err = await client.generateToken({ roomName: "r", participantIdentity: "u" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(handedOut).toEqual([bearerToken, "not-the-token"]);
    expect(err).toBeInstanceOf(UnauthenticatedError);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as UnauthenticatedError).code).toBe(Code.Unauthenticated);
    expect(tokenErrorOf(err)).toEqual({ kind: "unauthenticated", message: "the bearer token is not valid" });
  });

  it("without a token: unauthenticated, with the server's message", async () => {
    const client = createTokenClient(guarded.baseUrl, { getAccessToken: () => undefined });
    const err = await client.generateToken({ roomName: "r", participantIdentity: "u" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnauthenticatedError);
    expect(tokenErrorOf(err)).toEqual({
      kind: "unauthenticated",
      message: 'this server requires "Authorization: Bearer <token>"',
    });
  });
});
