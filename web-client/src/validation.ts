// @lktoken/web-client/validation: the contract's protovalidate rules in the
// browser, with the server's exact messages. Its own entry point because
// protovalidate (a CEL interpreter) and the full descriptors weigh ~70 KB
// gzipped: load it when a form is first used, not with the app.
import { clearField, createRegistry, type DescMessage, type Message, type MessageInitShape, create, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createValidator, violationsToProto, type Validator } from "@bufbuild/protovalidate";
import { Violation } from "@bufbuild/protovalidate";
import {
  FieldRulesSchema,
  ViolationSchema,
  ViolationsSchema,
  type Violations,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
// The full descriptors (gen/ts-validation): the same messages as the core's,
// with their protovalidate options.
import {
  GenerateTokenRequestSchema,
  file_lktoken_v1_token_service,
} from "../../gen/ts-validation/lktoken/v1/token_service_pb.js";
import { file_lktoken_v1_rules } from "../../gen/ts-validation/lktoken/v1/rules_pb.js";
import type { GenerateTokenRequest } from "../../gen/ts/lktoken/v1/token_service_pb.js";
import { collectFieldErrors, type FieldErrors } from "./fields.js";

export type { FieldErrors } from "./fields.js";
export { file_lktoken_v1_rules, label } from "../../gen/ts-validation/lktoken/v1/rules_pb.js";

let shared: Validator | undefined;

/**
 * The protovalidate validator for lktoken's contract. It is created once:
 * compiling the rules is the expensive part. Its registry holds the
 * predefined rule `lktoken.v1.label` (rules.proto); without it the validator
 * cannot evaluate that rule and reports an error instead of violations.
 */
export function tokenRequestValidator(): Validator {
  shared ??= createValidator({ registry: createRegistry(file_lktoken_v1_rules) });
  return shared;
}

/** The full descriptors of the contract's messages, by type name. */
const full = createRegistry(file_lktoken_v1_token_service);

/**
 * How the server that will answer treats the request: the one rule that
 * depends on its configuration.
 */
export interface ValidationOptions {
  /**
   * The server verifies its callers with OpenID Connect (LKTOKEN_OIDC_ISSUER)
   * and fills an empty `participantIdentity` with the verified subject, so an
   * empty identity is allowed. Default `false`: like a server without OpenID
   * Connect (no authentication, or the static LKTOKEN_BEARER_TOKEN), an empty
   * identity is refused with "value is required" (rule id `required`). Either
   * way, an identity that is given must satisfy the contract's rules.
   */
  identityFromToken?: boolean;
}

/**
 * Checks a GenerateToken request against the same rules the server applies
 * (the protovalidate annotations in proto/) and returns its field errors;
 * `{}` means the server's validation will accept it. The server stays the
 * authority: it may be configured with narrower bounds.
 *
 * @throws Error if the rules themselves cannot be evaluated (a bug, not bad input).
 */
export function validateTokenRequest(
  request: GenerateTokenRequest | MessageInitShape<typeof GenerateTokenRequestSchema>,
  options: ValidationOptions = {},
): FieldErrors {
  const message = isMessage(request) ? request : create(GenerateTokenRequestSchema, request);
  const result = validateMessage(GenerateTokenRequestSchema, message, options);
  switch (result.kind) {
    case "valid":
      return {};
    case "invalid":
      return fieldErrorsFromViolations(result.violations);
    case "error":
      throw new Error(`lktoken web-client: validation rules could not be evaluated: ${result.error.message}`, {
        cause: result.error,
      });
  }
}

/**
 * The hook createTokenClient's `validate` option calls for every request:
 * throws the `invalid_argument` ConnectError the server would answer when
 * `message` breaks the contract. A message type this module does not know
 * passes (the server decides). With `{ identityFromToken: true }` an empty
 * participant identity passes (see {@link ValidationOptions}).
 */
export function checkRequest(message: Message, options: ValidationOptions = {}): void {
  const schema = full.getMessage(message.$typeName);
  if (schema === undefined) {
    return;
  }
  const result = validateMessage(schema, message, options);
  if (result.kind === "invalid") {
    throw invalidArgumentError(result.violations);
  }
  if (result.kind === "error") {
    // A rule this build cannot evaluate: leave the verdict to the server.
    console.warn("lktoken web-client: skipping client-side validation:", result.error.message);
  }
}

type Result =
  | { kind: "valid" }
  | { kind: "invalid"; violations: Violation[] }
  | { kind: "error"; error: Error };

/**
 * Validates with the full descriptor of the message's type. The message may
 * have been made with the core's descriptor (the same fields, without the
 * rules): protovalidate reads it through the schema it is given. Then adds
 * the server's own rule for a GenerateTokenRequest (see identityRequired).
 */
function validateMessage(schema: DescMessage, message: Message, options: ValidationOptions): Result {
  const result: Result = tokenRequestValidator().validate(schema, message);
  if (
    options.identityFromToken === true ||
    result.kind === "error" ||
    !isMessage(message, GenerateTokenRequestSchema) ||
    message.participantIdentity !== ""
  ) {
    return result;
  }
  return { kind: "invalid", violations: withIdentityRequired(result.kind === "invalid" ? result.violations : []) };
}

/**
 * The violation a server without OpenID Connect answers for an empty
 * participant identity (service/contract's identityRequired): what
 * protovalidate reported while the contract marked the field required —
 * field participant_identity (2), rule `required` (FieldRules field 25),
 * rule id "required", "value is required".
 */
function identityRequired(): Violation {
  return new Violation(
    "value is required",
    "required",
    [GenerateTokenRequestSchema.field.participantIdentity],
    [FieldRulesSchema.field.required],
    false,
  );
}

/**
 * Puts identityRequired where the server does: after the violations of
 * room_name (field 1), before the others.
 */
function withIdentityRequired(violations: readonly Violation[]): Violation[] {
  const fieldNumber = (v: Violation) => {
    const first = v.field[0];
    return first !== undefined && first.kind === "field" ? first.number : 0;
  };
  return [
    ...violations.filter((v) => fieldNumber(v) <= 1),
    identityRequired(),
    ...violations.filter((v) => fieldNumber(v) > 1),
  ];
}

/** Maps protovalidate's violations onto the top-level field each one names. */
export function fieldErrorsFromViolations<T = GenerateTokenRequest>(violations: readonly Violation[]): FieldErrors<T> {
  const pairs: [string, string][] = [];
  for (const v of violations) {
    const first = v.field[0];
    const key = first !== undefined && first.kind === "field" ? first.localName : "";
    pairs.push([key, v.message]);
  }
  return collectFieldErrors<T>(pairs);
}

/**
 * Builds the ConnectError lktoken's server would answer for these violations:
 * code `invalid_argument`, message "room_name: must not be only whitespace;
 * participant_identity: ...", and the `buf.validate.Violations` detail. The
 * client-side check throws it so that callers handle one shape of error.
 */
export function invalidArgumentError(violations: readonly Violation[]): ConnectError {
  const [proto] = violationsToProto([...violations]);
  for (const v of proto.violations) {
    // protovalidate-es sets for_key to false; lktoken's server (protovalidate-go)
    // leaves it unset. Unset it too, so the detail is the server's, field for field.
    if (!v.forKey) {
      clearField(v, ViolationSchema.field.forKey);
    }
  }
  return new ConnectError(violationsMessage(proto), Code.InvalidArgument, undefined, [
    { desc: ViolationsSchema, value: proto },
  ]);
}

/** "field: message; field: message", like the server's error message. */
function violationsMessage(violations: Violations): string {
  return violations.violations.map((v) => `${fieldPathString(v.field?.elements ?? [])}: ${v.message}`).join("; ");
}

type FieldPathElement = NonNullable<Violations["violations"][number]["field"]>["elements"][number];

/**
 * A field path as the server writes it (protovalidate-go's FieldPathString):
 * names joined by ".", each list index or map key in brackets, string keys
 * quoted as Go quotes them: `room_config.agents[1].agent_name`,
 * `participant_attributes["lk.x"]`.
 */
function fieldPathString(elements: readonly FieldPathElement[]): string {
  return elements
    .map((e) => {
      const s = e.subscript;
      switch (s.case) {
        case "index":
        case "intKey":
        case "uintKey":
        case "boolKey":
          return `${e.fieldName}[${String(s.value)}]`;
        case "stringKey":
          return `${e.fieldName}[${goQuote(s.value)}]`;
        default:
          return e.fieldName;
      }
    })
    .join(".");
}

/** Go's strconv.Quote: printable characters as they are, everything else escaped. */
function goQuote(s: string): string {
  const short: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\" };
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (short[ch] !== undefined) {
      out += short[ch];
    } else if (ch === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) {
      out += ch;
    } else if (cp < 0x10000) {
      out += `\\u${cp.toString(16).padStart(4, "0")}`;
    } else {
      out += `\\U${cp.toString(16).padStart(8, "0")}`;
    }
  }
  return `${out}"`;
}
