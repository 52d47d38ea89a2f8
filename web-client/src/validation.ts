// @lktoken/web-client/validation: the contract's protovalidate rules in the
// browser, with the server's exact messages. Its own entry point because
// protovalidate (a CEL interpreter) and the full descriptors weigh ~70 KB
// gzipped: load it when a form is first used, not with the app.
import { createRegistry, type DescMessage, type Message, type MessageInitShape, create, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createValidator, violationsToProto, type Validator, type Violation } from "@bufbuild/protovalidate";
import { ViolationsSchema, type Violations } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
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
 * Checks a GenerateToken request against the same rules the server applies
 * (the protovalidate annotations in proto/) and returns its field errors;
 * `{}` means the server's validation will accept it. The server stays the
 * authority: it may be configured with narrower bounds.
 *
 * @throws Error if the rules themselves cannot be evaluated (a bug, not bad input).
 */
export function validateTokenRequest(
  request: GenerateTokenRequest | MessageInitShape<typeof GenerateTokenRequestSchema>,
): FieldErrors {
  const result = validateMessage(GenerateTokenRequestSchema, isMessage(request) ? request : create(GenerateTokenRequestSchema, request));
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
 * passes (the server decides).
 */
export function checkRequest(message: Message): void {
  const schema = full.getMessage(message.$typeName);
  if (schema === undefined) {
    return;
  }
  const result = validateMessage(schema, message);
  if (result.kind === "invalid") {
    throw invalidArgumentError(result.violations);
  }
  if (result.kind === "error") {
    // A rule this build cannot evaluate: leave the verdict to the server.
    console.warn("lktoken web-client: skipping client-side validation:", result.error.message);
  }
}

/**
 * Validates with the full descriptor of the message's type. The message may
 * have been made with the core's descriptor (the same fields, without the
 * rules): protovalidate reads it through the schema it is given.
 */
function validateMessage(schema: DescMessage, message: Message) {
  return tokenRequestValidator().validate(schema, message);
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
  return new ConnectError(violationsMessage(proto), Code.InvalidArgument, undefined, [
    { desc: ViolationsSchema, value: proto },
  ]);
}

/** "field: message; field: message", like the server's error message. */
function violationsMessage(violations: Violations): string {
  return violations.violations
    .map((v) => `${(v.field?.elements ?? []).map((e) => e.fieldName).join(".")}: ${v.message}`)
    .join("; ");
}
