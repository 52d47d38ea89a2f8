// Sign-in with an OpenID Connect provider: the authorization code flow with
// PKCE (S256), as a public client (no secret), in ~100 lines with no library.
// A real app would use angular-oauth2-oidc or oidc-client-ts; the point here
// is the hand-off: the access token goes to lktoken through the typed
// client's getAccessToken, and lktoken takes the identity from it.
//
// On when the page is opened with ?issuer=...&client_id=...&audience=...
// (the browser suite points it at Ory Hydra). The redirect URI is the app's
// own origin + "/"; the page's query is kept in sessionStorage across the
// round trip to the provider.
import { InjectionToken } from "@angular/core";

export interface SignInConfig {
  /** The issuer exactly as its tokens' iss, e.g. "http://127.0.0.1:4444/". */
  issuer: string;
  clientId: string;
  /** The audience to ask for: lktoken's LKTOKEN_OIDC_AUDIENCE. */
  audience: string;
}

const pending = "lktoken-example-sign-in";

interface Pending {
  state: string;
  verifier: string;
  /** The page's query before the round trip (tokens=..., issuer=..., ...). */
  search: string;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function discovery(issuer: string): Promise<{ authorization_endpoint: string; token_endpoint: string }> {
  const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!res.ok) {
    throw new Error(`discovery: ${res.status}`);
  }
  return (await res.json()) as { authorization_endpoint: string; token_endpoint: string };
}

export class SignIn {
  private token: string | undefined;

  constructor(readonly config: SignInConfig) {}

  /** The current access token, or undefined before sign-in: what getAccessToken returns. */
  accessToken(): string | undefined {
    return this.token;
  }

  /** The token's subject, for display only (lktoken verifies the token itself). */
  subject(): string | undefined {
    const payload = this.token?.split(".")[1];
    if (payload === undefined) {
      return undefined;
    }
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return (JSON.parse(json) as { sub?: string }).sub;
  }

  /** Leaves for the provider's login page. */
  async start(): Promise<void> {
    const { authorization_endpoint } = await discovery(this.config.issuer);
    const verifier = random(32);
    const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
    const state = random(16);
    const p: Pending = { state, verifier, search: location.search };
    sessionStorage.setItem(pending, JSON.stringify(p));
    const q = new URLSearchParams({
      client_id: this.config.clientId,
      response_type: "code",
      scope: "openid",
      redirect_uri: redirectUri(),
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
      audience: this.config.audience,
    });
    location.assign(`${authorization_endpoint}?${q}`);
  }

  /**
   * Back from the provider with ?code=...&state=...: checks the state,
   * exchanges the code (with the PKCE verifier) for the access token and
   * puts the page's own query back.
   */
  async complete(code: string, state: string): Promise<void> {
    const p = JSON.parse(sessionStorage.getItem(pending) ?? "null") as Pending | null;
    sessionStorage.removeItem(pending);
    if (p === null || p.state !== state) {
      throw new Error("sign-in: the answer's state is not ours");
    }
    const { token_endpoint } = await discovery(this.config.issuer);
    const res = await fetch(token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri(),
        client_id: this.config.clientId,
        code_verifier: p.verifier,
      }),
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!res.ok || body.access_token === undefined) {
      throw new Error(`sign-in: token endpoint ${res.status}: ${body.error ?? ""} ${body.error_description ?? ""}`);
    }
    this.token = body.access_token;
  }
}

function redirectUri(): string {
  return `${location.origin}/`;
}

/**
 * The page's query, and the provider's answer when the page is the redirect
 * target: after the round trip the page's own query comes from sessionStorage.
 */
export function pageQuery(): { params: URLSearchParams; answer?: { code: string; state: string } } {
  const here = new URLSearchParams(location.search);
  const code = here.get("code");
  const state = here.get("state");
  const saved = JSON.parse(sessionStorage.getItem(pending) ?? "null") as Pending | null;
  if (code !== null && state !== null && saved !== null) {
    history.replaceState(null, "", `/${saved.search}`);
    return { params: new URLSearchParams(saved.search), answer: { code, state } };
  }
  return { params: here };
}

/** The page's sign-in, when it was opened with ?issuer=...; null otherwise. */
export const SIGN_IN = new InjectionToken<SignIn | null>("example sign-in");
