import type { DescMessage } from "@bufbuild/protobuf";
import type { Violations } from "../../gen/ts/buf/validate/validate_pb.js";
import { GenerateTokenRequestSchema, type GenerateTokenRequest } from "../../gen/ts/lktoken/v1/token_service_pb.js";

/**
 * Field errors of a request, keyed by the field's name in the generated
 * TypeScript message (`roomName`, not `room_name`), so a form can bind them
 * next to the input that holds the same property. Several violations of one
 * field are joined with "; ", the way the server's error message does.
 */
export type FieldErrors<T = GenerateTokenRequest> = Partial<Record<Exclude<keyof T, "$typeName" | "$unknown">, string>>;

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
  return collectFieldErrors<T>(pairs);
}

/** Joins [field, message] pairs into FieldErrors, several messages of one field with "; ". */
export function collectFieldErrors<T>(pairs: readonly [string, string][]): FieldErrors<T> {
  const out: Record<string, string> = {};
  for (const [key, message] of pairs) {
    out[key] = key in out ? `${out[key]}; ${message}` : message;
  }
  return out as FieldErrors<T>;
}
