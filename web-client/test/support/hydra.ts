// Ory Hydra (e2e/hydra/build.sh) on loopback for the browser suite, with the
// minimal login-and-consent app its authorization code flow needs: the same
// configuration as e2e/harness (hydra.go, hydra_login.go) — sqlite, JWT
// access tokens, the name claim at the top level — plus CORS on the public
// endpoints for the app's origin, since here a browser app talks to Hydra.
import { spawn } from "node:child_process";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stopProcess } from "./lktoken.js";
import { freeTcpPort } from "./livekit.js";

/** The user the login app signs in (no password asked) unless the client's login_hint names another. */
export const TEST_USER = { subject: "e2e-user-ada", name: "Ada (e2e)" };
/** The second user: signed in when the authorization request says login_hint=e2e-user-grace. */
export const SECOND_USER = { subject: "e2e-user-grace", name: "Grace (e2e)" };
const users = [TEST_USER, SECOND_USER];

export interface RunningHydra {
  /** Exactly the tokens' iss, with Hydra's trailing slash: "http://127.0.0.1:PORT/". */
  issuer: string;
  publicUrl: string;
  adminUrl: string;
  output: string[];
  /** Registers a public client (no secret) for the authorization code flow with PKCE; returns its client_id. */
  createPublicClient(redirectUri: string, audience: string): Promise<string>;
  stop(): Promise<void>;
}

async function adminCall(adminUrl: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`hydra admin ${method} ${path}: ${res.status} ${text}`);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * The login-and-consent app: every login is the user the login_hint names
 * (TEST_USER without one), every consent grants what the client asked for,
 * and the access token carries the user's name.
 */
function loginConsentApp(adminUrl: () => string): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const answer = async (): Promise<string> => {
      if (url.pathname === "/login") {
        const challenge = encodeURIComponent(url.searchParams.get("login_challenge") ?? "");
        const asked = await adminCall(adminUrl(), "GET", `/admin/oauth2/auth/requests/login?login_challenge=${challenge}`);
        const hint = (asked["oidc_context"] as { login_hint?: string } | undefined)?.login_hint;
        const user = users.find((u) => u.subject === hint) ?? TEST_USER;
        const out = await adminCall(adminUrl(), "PUT", `/admin/oauth2/auth/requests/login/accept?login_challenge=${challenge}`, {
          subject: user.subject,
          remember: false,
        });
        return String(out["redirect_to"]);
      }
      if (url.pathname === "/consent") {
        const challenge = encodeURIComponent(url.searchParams.get("consent_challenge") ?? "");
        const asked = await adminCall(adminUrl(), "GET", `/admin/oauth2/auth/requests/consent?consent_challenge=${challenge}`);
        const out = await adminCall(adminUrl(), "PUT", `/admin/oauth2/auth/requests/consent/accept?consent_challenge=${challenge}`, {
          grant_scope: asked["requested_scope"],
          grant_access_token_audience: asked["requested_access_token_audience"],
          remember: false,
          session: { access_token: { name: (users.find((u) => u.subject === asked["subject"]) ?? TEST_USER).name } },
        });
        return String(out["redirect_to"]);
      }
      throw new Error(`no such page: ${url.pathname}`);
    };
    answer().then(
      (to) => res.writeHead(302, { Location: to }).end(),
      (err: unknown) => res.writeHead(502, { "Content-Type": "text/plain" }).end(String(err)),
    );
  });
}

async function waitReady(url: string, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = exited();
    if (gone !== undefined) {
      throw new Error(`hydra exited (${gone}) before ${url} was ready`);
    }
    try {
      if ((await fetch(url)).ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`hydra: ${url} not ready within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Migrates a fresh sqlite database and runs `hydra serve all --dev` on free 127.0.0.1 ports. */
export async function startHydra(bin: string, corsOrigin: string): Promise<RunningHydra> {
  const [pub, admin] = [await freeTcpPort(), await freeTcpPort()];
  const publicUrl = `http://127.0.0.1:${pub}`;
  const adminUrl = `http://127.0.0.1:${admin}`;
  const issuer = `${publicUrl}/`;
  const app = loginConsentApp(() => adminUrl);
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", () => r()));
  const appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
  const dir = await mkdtemp(join(tmpdir(), "lktoken-web-hydra-"));
  const config = join(dir, "hydra.json");
  // JSON is YAML: Hydra reads it with -c.
  await writeFile(
    config,
    JSON.stringify({
      dsn: `sqlite://${join(dir, "hydra.sqlite")}?_fk=true`,
      serve: {
        public: { host: "127.0.0.1", port: pub, cors: { enabled: true, allowed_origins: [corsOrigin] } },
        admin: { host: "127.0.0.1", port: admin },
      },
      urls: { self: { issuer }, login: `${appUrl}/login`, consent: `${appUrl}/consent` },
      strategies: { access_token: "jwt" },
      oauth2: { allowed_top_level_claims: ["name"] },
      secrets: { system: [randomBytes(32).toString("hex")] },
      log: { level: "warn" },
    }),
    { mode: 0o600 },
  );
  // Nothing of the caller's environment (Hydra reads DSN and more from it).
  const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: dir, TMPDIR: dir };
  await promisify(execFile)(bin, ["migrate", "sql", "up", "-e", "--yes", "-c", config], { env, timeout: 60_000 });
  const child = spawn(bin, ["serve", "all", "--dev", "--sqa-opt-out", "-c", config], { env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding("utf8");
    s.on("data", (d: string) => output.push(...d.split("\n").filter((l) => l !== "")));
  }
  let exit: string | undefined;
  child.once("exit", (code, signal) => (exit = `${code ?? signal}`));
  const stop = async () => {
    await stopProcess(child);
    await new Promise<void>((r) => app.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(`${publicUrl}/health/ready`, 30_000, () => exit);
    await waitReady(`${adminUrl}/health/ready`, 30_000, () => exit);
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n${output.slice(-20).join("\n")}`);
  }
  return {
    issuer,
    publicUrl,
    adminUrl,
    output,
    stop,
    async createPublicClient(redirectUri, audience) {
      const c = await adminCall(adminUrl, "POST", "/admin/clients", {
        grant_types: ["authorization_code"],
        response_types: ["code"],
        scope: "openid",
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: "none",
        audience: [audience],
      });
      return String(c["client_id"]);
    },
  };
}
