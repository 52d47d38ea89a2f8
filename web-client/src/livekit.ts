// @lktoken/web-client/livekit: a LiveKit TokenSource backed by the typed
// client. livekit-client is an optional peer dependency: this entry uses its
// types only, so it adds no code of livekit-client's to a bundle.
import type { TokenSourceConfigurable, TokenSourceFetchOptions, TokenSourceResponseObject } from "livekit-client";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  GenerateTokenRequestSchema,
  GenerateTokenResponse,
  RoomAgentDispatchSchema,
} from "../../gen/ts/lktoken/v1/token_service_pb.js";
import type { AccessTokenGetter, TokenClient } from "./client.js";
import { accessTokenGetterOf, callerKey } from "./caller.js";
import { RateLimitedError } from "./errors.js";

/** A GenerateToken request as a plain object: `{ roomName, participantIdentity, expirationSeconds, ... }`. */
export type TokenRequestInit = Omit<MessageInitShape<typeof GenerateTokenRequestSchema>, "$typeName">;

/** Options of {@link tokenSource}. */
export interface TokenSourceOptions {
  /**
   * A cached token is reused until this many seconds before it expires.
   * Default 60, what livekit-client's own cached token sources use.
   */
  refreshBeforeSeconds?: number;
  /** The clock, in milliseconds since the epoch (tests). Default `Date.now`. */
  now?: () => number;
  /**
   * Who is calling: the access token the client sends. A cached token is
   * handed only to the caller it was minted for (the same `iss` and `sub`
   * for a JWT access token, the same token otherwise), so after a sign-out
   * and another user's sign-in the next fetch asks lktoken again. Default:
   * the `getAccessToken` the client was created with (`createTokenClient`,
   * `provideTokenClient`); without one, every caller is the same.
   */
  getAccessToken?: AccessTokenGetter;
}

/**
 * The token source {@link tokenSource} returns: a livekit-client
 * `TokenSourceConfigurable`, so it goes wherever livekit-client (or a
 * LiveKit UI kit) takes one.
 */
export interface LktokenTokenSource extends TokenSourceConfigurable {
  /**
   * A token for the request merged with `options` (room, participant name,
   * identity, metadata, attributes, and the agent to dispatch: `agentName`,
   * `agentMetadata` and `deployment` become `roomConfig.agents[0]`, as
   * livekit-client's own endpoint source sends them): the cached one while it
   * is valid for at least `refreshBeforeSeconds` more and the request and the
   * caller (see {@link TokenSourceOptions.getAccessToken}) are unchanged,
   * otherwise a fresh one. Concurrent calls wait for each other: one request
   * to lktoken at a time. `force` skips the cache.
   *
   * @throws ConnectError as the client does (invalid_argument,
   *   UnauthenticatedError, PermissionDeniedError for an agent outside the
   *   server's LKTOKEN_ALLOWED_AGENTS, ...).
   * @throws RateLimitedError when lktoken's rate limit refused; until its
   *   `retryAfterMs` has passed, fetches that need a fresh token throw it
   *   again (with the delay left) without asking lktoken.
   */
  fetch(options?: TokenSourceFetchOptions, force?: boolean): Promise<TokenSourceResponseObject>;
  /**
   * Forgets the cached token: the next fetch asks lktoken, and the fetches
   * called before (waiting or in flight) do not cache their answers. Call it on sign-out, or whenever the
   * token must not be reused.
   */
  invalidate(): void;
  /** The last response from lktoken (its `expiresAt`, `roomName`, ...), if any since the last invalidate(). */
  readonly lastResponse: GenerateTokenResponse | undefined;
}

/**
 * A LiveKit TokenSource that gets its tokens from lktoken through the typed
 * client:
 *
 *     const source = tokenSource(client, { participantIdentity: "user-42" });
 *     const { serverUrl, participantToken } = await source.fetch({ roomName: "standup" });
 *     await room.connect(serverUrl, participantToken);
 *
 * @param request the request every fetch starts from, or a function that
 *   returns it (called on every fetch, so a change is noticed). The options
 *   given to `fetch` are laid over it.
 */
export function tokenSource(
  client: TokenClient,
  request: TokenRequestInit | (() => TokenRequestInit) = {},
  options: TokenSourceOptions = {},
): LktokenTokenSource {
  const refreshBeforeMs = (options.refreshBeforeSeconds ?? 60) * 1000;
  const now = options.now ?? Date.now;
  const getAccessToken = options.getAccessToken ?? accessTokenGetterOf(client);
  let cached: { key: string; response: GenerateTokenResponse; refreshAt: number } | undefined;
  let last: GenerateTokenResponse | undefined;
  /** Counts invalidate() calls: an answer to an older generation is not cached. */
  let generation = 0;
  let queue: Promise<unknown> = Promise.resolve();
  /** The last rate limit refusal and when its delay ends: no request before then. */
  let limited: { error: RateLimitedError; until: number } | undefined;

  async function fetchNow(fetchOptions: TokenSourceFetchOptions, force: boolean, asked: number): Promise<TokenSourceResponseObject> {
    const merged = mergeRequest(typeof request === "function" ? request() : request, fetchOptions);
    const caller = getAccessToken ? await callerKey(await getAccessToken()) : "";
    const key = `${caller}\n${requestKey(merged)}`;
    if (force || cached === undefined || cached.key !== key || now() >= cached.refreshAt) {
      if (limited !== undefined && now() < limited.until) {
        throw retryLater(limited.error, limited.until - now());
      }
      let response: GenerateTokenResponse;
      try {
        response = await client.generateToken(merged);
      } catch (err) {
        if (err instanceof RateLimitedError) {
          limited = { error: err, until: now() + err.retryAfterMs };
        }
        throw err;
      }
      last = response;
      const expiresMs = response.expiresAt ? Number(response.expiresAt.seconds) * 1000 + Math.floor(response.expiresAt.nanos / 1e6) : 0;
      if (asked === generation) {
        cached = { key, response, refreshAt: expiresMs - refreshBeforeMs };
      }
      return { serverUrl: response.serverUrl, participantToken: response.token };
    }
    return { serverUrl: cached.response.serverUrl, participantToken: cached.response.token };
  }

  return {
    fetch(fetchOptions: TokenSourceFetchOptions = {}, force = false): Promise<TokenSourceResponseObject> {
      // One at a time: each call starts when the previous one has settled.
      const asked = generation;
      const run = queue.then(() => fetchNow(fetchOptions, force, asked));
      queue = run.catch(() => undefined);
      return run;
    },
    invalidate() {
      generation++;
      cached = undefined;
      limited = undefined; // another caller has a budget of its own
      last = undefined;
    },
    get lastResponse() {
      return last;
    },
  };
}

/** err again, with the delay that is left. */
function retryLater(err: RateLimitedError, leftMs: number): RateLimitedError {
  const again = new RateLimitedError(err.rawMessage, err.code, err.metadata, undefined, err.cause);
  again.details = err.details;
  again.retryAfterMs = leftMs;
  return again;
}

function mergeRequest(base: TokenRequestInit, o: TokenSourceFetchOptions): TokenRequestInit {
  const out: TokenRequestInit = { ...base };
  if (o.agentName !== undefined || o.agentMetadata !== undefined || o.deployment !== undefined) {
    // Laid over the request's first agent, as TokenSource.endpoint fills room_config.agents[0].
    const [first, ...rest] = base.roomConfig?.agents ?? [];
    const agent: MessageInitShape<typeof RoomAgentDispatchSchema> = { ...first };
    if (o.agentName !== undefined) agent.agentName = o.agentName;
    if (o.agentMetadata !== undefined) agent.metadata = o.agentMetadata;
    if (o.deployment !== undefined) agent.deployment = o.deployment;
    out.roomConfig = { agents: [agent, ...rest] };
  }
  if (o.roomName !== undefined) out.roomName = o.roomName;
  if (o.participantIdentity !== undefined) out.participantIdentity = o.participantIdentity;
  if (o.participantName !== undefined) out.participantName = o.participantName;
  if (o.participantMetadata !== undefined) out.participantMetadata = o.participantMetadata;
  if (o.participantAttributes !== undefined) out.participantAttributes = { ...base.participantAttributes, ...o.participantAttributes };
  return out;
}

/** The request's identity for the cache: its fields in a fixed order, attributes sorted. */
function requestKey(r: TokenRequestInit): string {
  const attrs = Object.entries(r.participantAttributes ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const agents = (r.roomConfig?.agents ?? []).map((a) => [a.agentName ?? "", a.metadata ?? "", a.deployment ?? ""]);
  return JSON.stringify([
    r.roomName ?? "",
    r.participantIdentity ?? "",
    r.participantName ?? null,
    r.expirationSeconds ?? null,
    r.participantMetadata ?? null,
    attrs,
    agents,
  ]);
}
