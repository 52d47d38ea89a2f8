import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, createTokenClient, violationsFromError } from "../src/index.js";

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
    const client = createTokenClient("http://127.0.0.1:9", { fetch: recordingFetch(calls) });
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

  it("sends a valid request, and a bad one when validation is off", async () => {
    const calls: string[] = [];
    const on = createTokenClient("http://127.0.0.1:9", { fetch: recordingFetch(calls) });
    await expect(on.generateToken({ roomName: "r", participantIdentity: "u" })).rejects.toThrow();
    const off = createTokenClient("http://127.0.0.1:9", { fetch: recordingFetch(calls), validate: false });
    await expect(off.generateToken({ roomName: " ", participantIdentity: "u" })).rejects.toThrow();
    expect(calls).toEqual([
      "http://127.0.0.1:9/lktoken.v1.TokenService/GenerateToken",
      "http://127.0.0.1:9/lktoken.v1.TokenService/GenerateToken",
    ]);
  });
});
