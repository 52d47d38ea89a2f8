import { Code, ConnectError } from "@connectrpc/connect";
import type { DescMessage } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ViolationsSchema } from "../../gen/ts/buf/validate/validate_pb.js";
import { GenerateTokenRequestSchema, type GenerateTokenRequest } from "../../gen/ts/lktoken/v1/token_service_pb.js";
import { fieldErrorsFromViolationsProto, type FieldErrors } from "./fields.js";

/**
 * Turns an error from a TokenService call into field errors for a form: the
 * `buf.validate.Violations` detail that lktoken attaches to `invalid_argument`
 * (and that the client-side check of `@lktoken/web-client/validation`
 * attaches the same way) becomes `{ roomName: "must not be only whitespace", ... }`.
 *
 * Returns `{}` for any other error (network, `internal`, ...): see
 * {@link tokenErrorOf} for those.
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
  // The core's ViolationsSchema is a pruned copy of buf.validate.Violations
  // (gen/ts/buf/validate): the same type name and wire format, a fraction of
  // the size. findDetails matches details by type name.
  for (const violations of cerr.findDetails(ViolationsSchema)) {
    Object.assign(out, fieldErrorsFromViolationsProto<T>(violations, schema));
  }
  return out;
}

/**
 * The caller is not authenticated (HTTP 401): no `Authorization` header, or
 * an access token lktoken does not accept (expired, wrong issuer, ...).
 * Sign in again or refresh the token. A ConnectError with code `unauthenticated`.
 */
export class UnauthenticatedError extends ConnectError {
  readonly kind = "unauthenticated";
  // ConnectError's own instanceof is a duck-typed check that every subclass
  // inherits (any ConnectError would pass); these use the prototype chain.
  // `name` stays "ConnectError", so `instanceof ConnectError` holds too.
  static override [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, v);
  }
}

/**
 * The caller is authenticated but may not have this token (HTTP 403), e.g. a
 * room its policy does not allow. A ConnectError with code `permission_denied`.
 */
export class PermissionDeniedError extends ConnectError {
  readonly kind = "permission_denied";
  static override [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, v);
  }
}

/**
 * The caller asked for tokens faster than lktoken's rate limit allows (HTTP
 * 429): try again after {@link RateLimitedError.retryAfterMs}. A ConnectError
 * with code `resource_exhausted`; the delay comes from the answer's
 * `google.rpc.RetryInfo` detail, else its `Retry-After` header.
 */
export class RateLimitedError extends ConnectError {
  readonly kind = "rate_limited";
  /** How long to wait before asking again, in milliseconds. */
  retryAfterMs = 0;
  static override [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, v);
  }
}

/**
 * The delay a `resource_exhausted` error asks the caller to wait, in
 * milliseconds: its RetryInfo detail (google.rpc.RetryInfo { retry_delay:
 * Duration }, read from the wire format), else its Retry-After header in
 * seconds; undefined when it carries neither (a body too large, say).
 */
function retryDelayMs(err: ConnectError): number | undefined {
  for (const d of err.details) {
    if ("desc" in d || d.type !== "google.rpc.RetryInfo") continue;
    try {
      const info = new BinaryReader(d.value);
      let seconds = 0;
      let nanos = 0;
      while (info.pos < info.len) {
        const [field, wireType] = info.tag();
        if (field !== 1) {
          info.skip(wireType);
          continue;
        }
        const dur = new BinaryReader(info.bytes());
        while (dur.pos < dur.len) {
          const [f, wt] = dur.tag();
          if (f === 1) seconds = Number(dur.int64());
          else if (f === 2) nanos = dur.int32();
          else dur.skip(wt);
        }
      }
      return seconds * 1000 + Math.ceil(nanos / 1e6);
    } catch {
      // A malformed detail: fall back to the header.
    }
  }
  const header = Number(err.metadata.get("Retry-After"));
  return Number.isFinite(header) && header >= 0 && err.metadata.has("Retry-After") ? header * 1000 : undefined;
}

/**
 * Rethrows `unauthenticated`, `permission_denied` and a rate limit's
 * `resource_exhausted` as the typed errors above (the same ConnectError
 * fields, message, metadata and details kept); anything else as it came.
 * createTokenClient installs it for every call.
 */
export function typedError(err: unknown): unknown {
  if (
    !(err instanceof ConnectError) ||
    err instanceof UnauthenticatedError ||
    err instanceof PermissionDeniedError ||
    err instanceof RateLimitedError
  ) {
    return err;
  }
  const retryAfterMs = err.code === Code.ResourceExhausted ? retryDelayMs(err) : undefined;
  const Typed =
    err.code === Code.Unauthenticated
      ? UnauthenticatedError
      : err.code === Code.PermissionDenied
        ? PermissionDeniedError
        : retryAfterMs !== undefined
          ? RateLimitedError
          : undefined;
  if (Typed === undefined) {
    return err;
  }
  const typed = new Typed(err.rawMessage, err.code, err.metadata, undefined, err.cause);
  typed.details = err.details;
  typed.isWireError = err.isWireError;
  if (typed instanceof RateLimitedError) {
    typed.retryAfterMs = retryAfterMs ?? 0;
  }
  return typed;
}

/** What went wrong with a token request, in the terms a form shows. */
export type TokenError =
  | { kind: "invalid_argument"; fields: FieldErrors; message: string }
  | { kind: "unauthenticated"; message: string }
  | { kind: "permission_denied"; message: string }
  | { kind: "rate_limited"; retryAfterMs: number; message: string }
  | { kind: "other"; code: Code; message: string };

/**
 * Sorts any error of a TokenService call into the cases a form handles:
 * field errors, "sign in again", "not allowed", "wait and retry", anything else.
 *
 *     switch (tokenErrorOf(err).kind) { case "unauthenticated": ...; }
 */
export function tokenErrorOf(err: unknown): TokenError {
  const cerr = ConnectError.from(err);
  switch (cerr.code) {
    case Code.InvalidArgument:
      return { kind: "invalid_argument", fields: violationsFromError(cerr), message: cerr.rawMessage };
    case Code.Unauthenticated:
      return { kind: "unauthenticated", message: cerr.rawMessage };
    case Code.PermissionDenied:
      return { kind: "permission_denied", message: cerr.rawMessage };
    case Code.ResourceExhausted: {
      const retryAfterMs = cerr instanceof RateLimitedError ? cerr.retryAfterMs : retryDelayMs(cerr);
      if (retryAfterMs !== undefined) {
        return { kind: "rate_limited", retryAfterMs, message: cerr.rawMessage };
      }
      return { kind: "other", code: cerr.code, message: cerr.rawMessage };
    }
    default:
      return { kind: "other", code: cerr.code, message: cerr.rawMessage };
  }
}
