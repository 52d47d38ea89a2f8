// @lktoken/web-client: the typed client of lktoken's TokenService, error
// mapping for forms, and the generated contract. Small on purpose (the size
// test holds it to 37 KB gzipped): client-side validation is the separate,
// on-demand "@lktoken/web-client/validation"; Angular integration is
// "@lktoken/web-client/angular"; the LiveKit TokenSource is
// "@lktoken/web-client/livekit".
export {
  createTokenClient,
  type TokenClient,
  type TokenClientOptions,
  type AccessTokenGetter,
  type RequestChecker,
} from "./client.js";
export { fieldErrorsFromViolationsProto, type FieldErrors } from "./fields.js";
export {
  violationsFromError,
  tokenErrorOf,
  UnauthenticatedError,
  PermissionDeniedError,
  RateLimitedError,
  type TokenError,
} from "./errors.js";
export { expiresAtDate } from "./response.js";

// The generated contract (protoc-gen-es, from proto/lktoken/v1, without the
// protovalidate options; see buf.gen.web-core.yaml).
export * from "../../gen/ts/lktoken/v1/token_service_pb.js";
export { ConnectError, Code } from "@connectrpc/connect";
