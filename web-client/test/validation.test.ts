import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { GenerateTokenRequestSchema, validateTokenRequest } from "../src/index.js";
import { cases } from "./cases.js";

describe("validateTokenRequest", () => {
  it.each(cases)("$name", ({ request, errors }) => {
    expect(validateTokenRequest(request)).toEqual(errors);
  });

  it("accepts a message as well as an init object", () => {
    const msg = create(GenerateTokenRequestSchema, { roomName: " ", participantIdentity: "u" });
    expect(validateTokenRequest(msg)).toEqual({ roomName: "must not be only whitespace" });
  });

  it("needs the registry with lktoken.v1.label: without it the rules cannot be evaluated", () => {
    // Guards the reason tokenRequestValidator passes a registry.
    const bare = createValidator();
    const result = bare.validate(GenerateTokenRequestSchema, create(GenerateTokenRequestSchema, { roomName: "r", participantIdentity: "u" }));
    expect(result.kind).toBe("error");
  });
});
