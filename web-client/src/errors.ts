import { Code, ConnectError } from "@connectrpc/connect";
import { violationsToProto, type Violation } from "@bufbuild/protovalidate";
import { ViolationsSchema, type Violations } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import type { DescMessage } from "@bufbuild/protobuf";
import { GenerateTokenRequestSchema, type GenerateTokenRequest } from "../../gen/ts/lktoken/v1/token_service_pb.js";
import { fieldErrorsFromViolationsProto, type FieldErrors } from "./validation.js";

/**
 * Turns an error from a TokenService call into field errors for a form: the
 * `buf.validate.Violations` detail that lktoken attaches to `invalid_argument`
 * (and that this package's client-side check attaches the same way) becomes
 * `{ roomName: "must not be only whitespace", ... }`.
 *
 * Returns `{}` for any other error (network, `internal`, ...): show
 * `ConnectError.from(err).rawMessage` for those instead.
 */
export function violationsFromError<T = GenerateTokenRequest>(
  err: unknown,
  schema: DescMessage = GenerateTokenRequestSchema,
): FieldErrors<T> {
  const cerr = ConnectError.from(err);
  if (cerr.code !== Code.InvalidArgument) {
    return {};
  }
  const out: FieldErrors<T> = {};
  for (const violations of cerr.findDetails(ViolationsSchema)) {
    Object.assign(out, fieldErrorsFromViolationsProto<T>(violations, schema));
  }
  return out;
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
