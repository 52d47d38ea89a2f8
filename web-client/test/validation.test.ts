import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { GenerateTokenRequestSchema } from "../src/index.js";
import { validateTokenRequest } from "../src/validation.js";
import { GenerateTokenRequestSchema as FullSchema } from "../../gen/ts-validation/lktoken/v1/token_service_pb.js";
import { cases } from "./cases.js";

describe("validateTokenRequest", () => {
  it.each(cases)("$name", ({ request, errors }) => {
    expect(validateTokenRequest(request)).toEqual(errors);
  });

  it("accepts a message made with the core's descriptor as well as an init object", () => {
    const msg = create(GenerateTokenRequestSchema, { roomName: " ", participantIdentity: "u" });
    expect(validateTokenRequest(msg)).toEqual({ roomName: "must not be only whitespace" });
  });

  it("needs the registry with lktoken.v1.label: without it the rules cannot be evaluated", () => {
    // Guards the reason tokenRequestValidator passes a registry.
    const bare = createValidator();
    const result = bare.validate(FullSchema, create(FullSchema, { roomName: "r", participantIdentity: "u" }));
    expect(result.kind).toBe("error");
  });

  it("the core's descriptor carries no rules: the rules live in the validation entry only", () => {
    // What keeps protovalidate's schema out of the core (buf.gen.web-core.yaml).
    const field = GenerateTokenRequestSchema.fields.find((f) => f.name === "room_name");
    expect(field?.proto.options).toBeUndefined();
    expect(GenerateTokenRequestSchema.file.dependencies.map((f) => f.name)).toEqual(["google/protobuf/timestamp"]);
    const full = FullSchema.fields.find((f) => f.name === "room_name");
    expect(full?.proto.options).toBeDefined();
  });
});
