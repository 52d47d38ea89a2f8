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

  /** Forgets the access token (the provider's session is not ours to end). */
  signOut(): void {
    this.token = undefined;
  }

  /**
   * Leaves for the provider's login page. `loginHint` asks the provider for
   * that account (OpenID Connect's login_hint).
   */
  async start(loginHint = ""): Promise<void> {
    location.assign(await this.authorizationUrl(loginHint));
  }

  /**
   * Signs in through a popup, keeping this page and its state (its token
   * source among them), as an app does to switch accounts: the popup comes
   * back to this app, which hands the answer to this page and closes
   * (popupAnswer below).
   */
  async startPopup(loginHint = ""): Promise<void> {
    // Opened at once, while the click still counts as the user's gesture.
    const popup = window.open("about:blank", "sign-in", "popup,width=480,height=640");
    if (popup === null) {
      throw new Error("sign-in: the popup was blocked");
    }
    const answer = new Promise<{ code: string; state: string }>((resolve) => {
      const onMessage = (e: MessageEvent) => {
        if (e.origin === location.origin && e.source === popup && typeof e.data?.code === "string") {
          window.removeEventListener("message", onMessage);
          resolve(e.data as { code: string; state: string });
        }
      };
      window.addEventListener("message", onMessage);
    });
    popup.location.assign(await this.authorizationUrl(loginHint));
    const { code, state } = await answer;
    await this.complete(code, state);
  }

  private async authorizationUrl(loginHint: string): Promise<string> {
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
    if (loginHint !== "") {
      q.set("login_hint", loginHint);
    }
    return `${authorization_endpoint}?${q}`;
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

/**
 * In the popup of startPopup, back from the provider: hands the answer to
 * the page that opened it and closes. Returns false anywhere else.
 */
export function popupAnswer(): boolean {
  const here = new URLSearchParams(location.search);
  const code = here.get("code");
  const state = here.get("state");
  const opener = window.opener as Window | null;
  if (code === null || state === null || opener === null) {
    return false;
  }
  opener.postMessage({ code, state }, location.origin);
  window.close();
  return true;
}

/** The page's sign-in, when it was opened with ?issuer=...; null otherwise. */
export const SIGN_IN = new InjectionToken<SignIn | null>("example sign-in");
