import { describe, expect, it } from "vitest";
import { create, isFieldSet } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { GenerateTokenRequestSchema } from "../src/index.js";
import { ViolationSchema, ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "../src/index.js";
import { checkRequest, validateTokenRequest } from "../src/validation.js";
import { GenerateTokenRequestSchema as FullSchema } from "../../gen/ts-validation/lktoken/v1/token_service_pb.js";
import { cases, type Case } from "./cases.js";

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

// A server with OpenID Connect fills an empty participantIdentity with the
// caller's verified subject (service/mint), so the only rule that depends on
// the server's mode is gone: the same table, minus "value is required" on the
// identity. An identity that is given keeps every rule.
describe("validateTokenRequest with { identityFromToken: true } (a server with OpenID Connect)", () => {
  const withoutIdentityRequired = (c: Case): Case => {
    const { participantIdentity, ...rest } = c.errors;
    return { ...c, errors: participantIdentity === "value is required" ? rest : c.errors };
  };
  const oidcCases = cases.map(withoutIdentityRequired);

  it("the table has cases where the mode matters", () => {
    expect(oidcCases.filter((c, i) => c.errors !== cases[i]!.errors).map((c) => c.name)).toEqual([
      "identity empty",
      "identity left out",
      "both required fields empty",
      "identity empty, every other field wrong",
    ]);
  });

  it.each(oidcCases)("$name", ({ request, errors }) => {
    expect(validateTokenRequest(request, { identityFromToken: true })).toEqual(errors);
  });

  it("{ identityFromToken: false } is the default", () => {
    for (const { request, errors } of cases) {
      expect(validateTokenRequest(request, { identityFromToken: false })).toEqual(errors);
    }
  });
});

describe("checkRequest", () => {
  const refusal = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return e as ConnectError;
    }
    return undefined;
  };

  it("by default refuses an empty identity with the violation a server without OpenID Connect answers", () => {
    const err = refusal(() => checkRequest(create(GenerateTokenRequestSchema, { roomName: "r" })));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toBe("participant_identity: value is required");
    // service/contract's identityRequired, element for element (for_key unset, as the server sends it).
    const [detail] = err?.findDetails(ViolationsSchema) ?? [];
    expect(detail?.violations).toHaveLength(1);
    const v = detail!.violations[0]!;
    expect(v.ruleId).toBe("required");
    expect(v.message).toBe("value is required");
    expect(v.field?.elements.map((e) => [e.fieldNumber, e.fieldName, e.fieldType])).toEqual([[2, "participant_identity", 9]]);
    expect(v.rule?.elements.map((e) => [e.fieldNumber, e.fieldName, e.fieldType])).toEqual([[25, "required", 8]]);
    expect(isFieldSet(v, ViolationSchema.field.forKey)).toBe(false);
  });

  it("puts it after the room's violations and before the others, as the server does", () => {
    const err = refusal(() => checkRequest(create(GenerateTokenRequestSchema, { roomName: " ", participantIdentity: "", expirationSeconds: 1 })));
    expect(err?.rawMessage).toBe(
      "room_name: must not be only whitespace; participant_identity: value is required; " +
        "expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400",
    );
  });

  it("names an agent's field by its whole path, as the server does", () => {
    const err = refusal(() =>
      checkRequest(
        create(GenerateTokenRequestSchema, {
          roomName: "r",
          participantIdentity: "u",
          roomConfig: { agents: [{ agentName: "helper", metadata: "m", deployment: "staging" }, { agentName: "\u202ex" }] },
        }),
      ),
    );
    expect(err?.rawMessage).toBe("room_config.agents[1].agent_name: must not contain control or bidirectional-override characters");
    const ok = create(GenerateTokenRequestSchema, { roomName: "r", participantIdentity: "u", roomConfig: { agents: [{ agentName: "helper" }] } });
    expect(refusal(() => checkRequest(ok))).toBeUndefined();
  });

  it("with { identityFromToken: true } lets an empty identity through, and still checks one that is given", () => {
    expect(refusal(() => checkRequest(create(GenerateTokenRequestSchema, { roomName: "r" }), { identityFromToken: true }))).toBeUndefined();
    const err = refusal(() =>
      checkRequest(create(GenerateTokenRequestSchema, { roomName: "", participantIdentity: "a#b" }), { identityFromToken: true }),
    );
    expect(err?.rawMessage).toBe("room_name: value is required; participant_identity: must not contain '#' (LiveKit reserves it in identities)");
  });
});
