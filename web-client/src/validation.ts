import { createRegistry, type DescMessage, type MessageInitShape, create, isMessage } from "@bufbuild/protobuf";
import { createValidator, type Validator, type Violation } from "@bufbuild/protovalidate";
import type { Violations } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import {
  GenerateTokenRequestSchema,
  type GenerateTokenRequest,
} from "../../gen/ts/lktoken/v1/token_service_pb.js";
import { file_lktoken_v1_rules } from "../../gen/ts/lktoken/v1/rules_pb.js";

/**
 * Field errors of a request, keyed by the field's name in the generated
 * TypeScript message (`roomName`, not `room_name`), so a form can bind them
 * next to the input that holds the same property. Several violations of one
 * field are joined with "; ", the way the server's error message does.
 */
export type FieldErrors<T = GenerateTokenRequest> = Partial<Record<Exclude<keyof T, "$typeName" | "$unknown">, string>>;

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
  const message = isMessage(request, GenerateTokenRequestSchema)
    ? request
    : create(GenerateTokenRequestSchema, request);
  const result = tokenRequestValidator().validate(GenerateTokenRequestSchema, message);
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

/** Maps protovalidate's violations onto the top-level field each one names. */
export function fieldErrorsFromViolations<T = GenerateTokenRequest>(violations: readonly Violation[]): FieldErrors<T> {
  const pairs: [string, string][] = [];
  for (const v of violations) {
    const first = v.field[0];
    const key = first !== undefined && first.kind === "field" ? first.localName : "";
    pairs.push([key, v.message]);
  }
  return collect<T>(pairs);
}

/**
 * Maps a `buf.validate.Violations` message (the server's error detail) onto
 * the top-level fields of `schema`. Field names arrive in their proto
 * spelling (`room_name`) and are turned into the TypeScript one (`roomName`);
 * a name the schema does not know is kept as it came.
 */
export function fieldErrorsFromViolationsProto<T = GenerateTokenRequest>(
  violations: Violations,
  schema: DescMessage = GenerateTokenRequestSchema,
): FieldErrors<T> {
  const pairs: [string, string][] = [];
  for (const v of violations.violations) {
    const name = v.field?.elements[0]?.fieldName ?? "";
    const field = schema.fields.find((f) => f.name === name);
    pairs.push([field?.localName ?? name, v.message ?? ""]);
  }
  return collect<T>(pairs);
}

function collect<T>(pairs: readonly [string, string][]): FieldErrors<T> {
  const out: Record<string, string> = {};
  for (const [key, message] of pairs) {
    out[key] = key in out ? `${out[key]}; ${message}` : message;
  }
  return out as FieldErrors<T>;
}
