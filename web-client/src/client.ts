import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, type ConnectTransportOptions } from "@connectrpc/connect-web";
import { TokenService } from "../../gen/ts/lktoken/v1/token_service_pb.js";
import { tokenRequestValidator } from "./validation.js";
import { invalidArgumentError } from "./errors.js";

/** The typed TokenService client: `await client.generateToken({ roomName, participantIdentity })`. */
export type TokenClient = Client<typeof TokenService>;

/** Options of {@link createTokenClient}. */
export interface TokenClientOptions extends Omit<ConnectTransportOptions, "baseUrl"> {
  /**
   * Check each request against the contract's rules before sending it, and
   * throw the same `invalid_argument` ConnectError the server would answer
   * (with its `buf.validate.Violations` detail) without making a request.
   * Default: true. The server validates again either way.
   */
  validate?: boolean;
}

/**
 * Creates the typed client of lktoken's TokenService on Connect's JSON
 * protocol over fetch (`@connectrpc/connect-web`).
 *
 * @param baseUrl where lktoken serves, e.g. "https://tokens.example.com";
 *   the page's origin must be in its LKTOKEN_ALLOWED_ORIGINS.
 * @param options transport options; `interceptors` is the seam for headers
 *   such as the `Authorization` one end-user authentication will need.
 */
export function createTokenClient(baseUrl: string, options: TokenClientOptions = {}): TokenClient {
  const { validate = true, interceptors = [], ...transportOptions } = options;
  const transport = createConnectTransport({
    ...transportOptions,
    baseUrl,
    // Validation runs first so that a request it refuses never reaches the
    // caller's interceptors (nor the network).
    interceptors: validate ? [validateRequests, ...interceptors] : interceptors,
  });
  return createClient(TokenService, transport);
}

/** Refuses a request that breaks the contract's protovalidate rules. */
const validateRequests: Interceptor = (next) => async (req) => {
  if (!req.stream) {
    const result = tokenRequestValidator().validate(req.method.input, req.message);
    if (result.kind === "invalid") {
      throw invalidArgumentError(result.violations);
    }
    if (result.kind === "error") {
      // A rule this build cannot evaluate: leave the verdict to the server.
      console.warn("lktoken web-client: skipping client-side validation:", result.error.message);
    }
  }
  return next(req);
};
