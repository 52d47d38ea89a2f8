import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, type ConnectTransportOptions } from "@connectrpc/connect-web";
import type { Message } from "@bufbuild/protobuf";
import { TokenService } from "../../gen/ts/lktoken/v1/token_service_pb.js";
import { typedError } from "./errors.js";
import { rememberAccessTokenGetter } from "./caller.js";

/** The typed TokenService client: `await client.generateToken({ roomName, participantIdentity })`. */
export type TokenClient = Client<typeof TokenService>;

/**
 * A client-side request check: what `@lktoken/web-client/validation`
 * exports. `checkRequest` throws the `invalid_argument` ConnectError the
 * server would answer for a request that breaks the contract.
 */
export interface RequestChecker {
  checkRequest(message: Message, options?: { identityFromToken?: boolean }): void;
}

/**
 * Where the access token comes from: called before every request, so a token
 * an OIDC library refreshes is always the current one. Return `undefined`,
 * `null` or `""` to send no `Authorization` header.
 */
export type AccessTokenGetter = () => string | null | undefined | Promise<string | null | undefined>;

/** Options of {@link createTokenClient}. */
export interface TokenClientOptions extends Omit<ConnectTransportOptions, "baseUrl"> {
  /**
   * Sends `Authorization: Bearer <token>` with the value this returns,
   * called per request (see {@link AccessTokenGetter}).
   */
  getAccessToken?: AccessTokenGetter;
  /**
   * Client-side validation, off unless given: the `@lktoken/web-client/validation`
   * entry point, or a function that loads it on first use, so it stays out of
   * the app's initial bundle:
   *
   *     validate: () => import("@lktoken/web-client/validation")
   *
   * A request that breaks the contract is then refused without a request, with
   * the same `invalid_argument` ConnectError the server would answer. The
   * server validates again either way. If loading fails, the request goes
   * out unchecked (and the load is retried next time).
   */
  validate?: RequestChecker | (() => Promise<RequestChecker>);
  /**
   * For `validate`: the server fills an empty `participantIdentity` with the
   * caller's verified identity (lktoken with OpenID Connect,
   * LKTOKEN_OIDC_ISSUER), so the client-side check lets an empty identity
   * through. Default: `true` when `getAccessToken` is given, else `false`
   * (an empty identity is refused with the server's "value is required").
   * Set it to `false` for a server in static bearer-token mode
   * (LKTOKEN_BEARER_TOKEN), which requires the identity.
   */
  identityFromToken?: boolean;
}

/**
 * Creates the typed client of lktoken's TokenService on Connect's JSON
 * protocol over fetch (`@connectrpc/connect-web`).
 *
 * Interceptors run in this order: the client-side check (`validate`), the
 * `Authorization` header (`getAccessToken`), then `interceptors`. Errors with
 * code `unauthenticated` and `permission_denied` are thrown as
 * {@link UnauthenticatedError} and {@link PermissionDeniedError}.
 *
 * @param baseUrl where lktoken serves, e.g. "https://tokens.example.com";
 *   the page's origin must be in its LKTOKEN_ALLOWED_ORIGINS.
 */
export function createTokenClient(baseUrl: string, options: TokenClientOptions = {}): TokenClient {
  const { validate, getAccessToken, identityFromToken, interceptors = [], ...transportOptions } = options;
  const chain: Interceptor[] = [typedErrors];
  if (validate !== undefined) {
    chain.push(checkRequests(validate, { identityFromToken: identityFromToken ?? getAccessToken !== undefined }));
  }
  if (getAccessToken !== undefined) {
    chain.push(bearer(getAccessToken));
  }
  const transport = createConnectTransport({ ...transportOptions, baseUrl, interceptors: [...chain, ...interceptors] });
  const client = createClient(TokenService, transport);
  if (getAccessToken !== undefined) {
    // tokenSource keys its cache on the caller this getter names.
    rememberAccessTokenGetter(client, getAccessToken);
  }
  return client;
}

const typedErrors: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    throw typedError(err);
  }
};

function bearer(getAccessToken: AccessTokenGetter): Interceptor {
  return (next) => async (req) => {
    const token = await getAccessToken();
    if (token) {
      req.header.set("Authorization", `Bearer ${token}`);
    }
    return next(req);
  };
}

function checkRequests(
  source: RequestChecker | (() => Promise<RequestChecker>),
  options: { identityFromToken: boolean },
): Interceptor {
  let loading: Promise<RequestChecker> | undefined;
  return (next) => async (req) => {
    if (!req.stream) {
      let checker: RequestChecker | undefined;
      if (typeof source === "function") {
        try {
          checker = await (loading ??= source());
        } catch (err) {
          loading = undefined;
          console.warn("lktoken web-client: client-side validation could not be loaded, the server will check:", err);
        }
      } else {
        checker = source;
      }
      checker?.checkRequest(req.message, options);
    }
    return next(req);
  };
}
