// @lktoken/web-client: the typed client of lktoken's TokenService, its
// client-side validation, and error mapping. Angular integration lives in
// "@lktoken/web-client/angular".
export { createTokenClient, type TokenClient, type TokenClientOptions } from "./client.js";
export {
  validateTokenRequest,
  tokenRequestValidator,
  fieldErrorsFromViolations,
  fieldErrorsFromViolationsProto,
  type FieldErrors,
} from "./validation.js";
export { violationsFromError, invalidArgumentError } from "./errors.js";

// The generated contract (protoc-gen-es, from proto/lktoken/v1).
export * from "../../gen/ts/lktoken/v1/token_service_pb.js";
export * from "../../gen/ts/lktoken/v1/rules_pb.js";
export { ConnectError, Code } from "@connectrpc/connect";
