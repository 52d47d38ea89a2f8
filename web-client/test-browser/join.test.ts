// The real-browser suite: Debian's Chromium (fake media devices) loads the
// example Angular app from one loopback origin, gets a token from the real
// lktoken on a second (CORS for real), and joins the real livekit-server on
// a third. The server's side is checked through RoomService.
//
// Run through run.sh, which starts it inside a network namespace holding only
// `lo`: Chromium pairs loopback ICE candidates only when no other interface
// exists.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { RoomServiceClient, TrackSource, TrackType, type ParticipantInfo } from "livekit-server-sdk";
import { lktokenBinary, repoRoot, startLktoken, type RunningLktoken } from "../test/support/lktoken.js";
import { startLivekit, redact, type RunningLivekit } from "../test/support/livekit.js";
import { serveStatic, type RunningStatic } from "../test/support/static.js";
import { SECOND_USER, startHydra, TEST_USER, type RunningHydra } from "../test/support/hydra.js";

const webClient = resolve(repoRoot, "web-client");
const resultsDir = join(webClient, "test-results");
const apiKey = `web-${randomBytes(4).toString("hex")}`;
const apiSecret = randomBytes(32).toString("base64url");
const run = randomBytes(3).toString("hex");

let livekit: RunningLivekit;
let lktoken: RunningLktoken;
let site: RunningStatic;
let browser: Browser;
let rooms: RoomServiceClient;
const timings: Record<string, number> = {};

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - start);
  }
}

/** Polls `fn` until it returns a value other than undefined, or fails after `timeoutMs`. */
async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) {
        return v;
      }
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Traffic {
  /** Requests the page sent to lktoken: "METHOD status" with the CORS answer. */
  lktoken: { method: string; status: number; allowOrigin: string | null }[];
  /** Paths of the scripts the page loaded from its own origin, in order. */
  scripts: string[];
  /** The tokens lktoken handed the page (the bodies of its 200 answers), in order. */
  tokens: Promise<string>[];
  console: string[];
}

/** The example's lazy chunk that holds protovalidate (found by content: names are hashed). */
async function validationChunk(): Promise<string> {
  const dir = join(webClient, "dist/example/browser");
  const found: string[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(".js"))) {
    if ((await readFile(join(dir, name), "utf8")).includes("cel.expr.Expr")) {
      found.push(name);
    }
  }
  expect(found, "exactly one chunk holds the CEL runtime").toHaveLength(1);
  return `/${found[0]}`;
}

async function openApp(
  query: Record<string, string>,
  origin = site.origin,
  server: RunningLktoken = lktoken,
): Promise<{ page: Page; traffic: Traffic }> {
  const page = await browser.newPage();
  const traffic: Traffic = { lktoken: [], scripts: [], tokens: [], console: [] };
  page.on("console", (m) => traffic.console.push(redact(`${m.type()}: ${m.text()}`)));
  page.on("pageerror", (e) => traffic.console.push(`pageerror: ${e.message}`));
  page.on("response", (res) => {
    if (res.url().startsWith(origin) && res.url().endsWith(".js")) {
      traffic.scripts.push(new URL(res.url()).pathname);
    }
    if (res.url().startsWith(server.baseUrl) && res.request().method() === "POST" && res.status() === 200) {
      traffic.tokens.push(res.json().then((b: { token: string }) => b.token));
    }
    if (res.url().startsWith(server.baseUrl)) {
      traffic.lktoken.push({
        method: res.request().method(),
        status: res.status(),
        allowOrigin: res.headers()["access-control-allow-origin"] ?? null,
      });
    }
  });
  await page.goto(`${origin}/?${new URLSearchParams({ tokens: server.baseUrl, ...query })}`);
  await page.locator("app-root h1").waitFor({ timeout: 30_000 });
  return { page, traffic };
}

async function fill(page: Page, fields: { room: string; identity: string; name?: string }): Promise<void> {
  await page.fill("#room", fields.room);
  await page.fill("#identity", fields.identity);
  await page.fill("#name", fields.name ?? "");
}

async function participants(room: string): Promise<ParticipantInfo[]> {
  return rooms.listParticipants(room);
}

beforeAll(async () => {
  if (process.env["CI"] || process.env["LKTOKEN_IN_NETNS"]) {
    // Outside the namespace Chromium would not pair loopback candidates and
    // the join would time out: say so up front.
    expect(Object.keys(networkInterfaces())).toEqual(["lo"]);
  }
  const livekitBin = process.env["LIVEKIT_BIN"];
  if (!livekitBin) {
    throw new Error("LIVEKIT_BIN is not set: run this suite through test-browser/run.sh (npm run test:browser)");
  }
  await timed("start livekit-server", async () => {
    livekit = await startLivekit(livekitBin, apiKey, apiSecret);
  });
  site = await serveStatic(join(webClient, "dist/example/browser"));
  await timed("start lktoken", async () => {
    lktoken = await startLktoken(await lktokenBinary(), {
      LIVEKIT_API_KEY: apiKey,
      LIVEKIT_API_SECRET: apiSecret,
      LIVEKIT_URL: livekit.wsUrl,
      LKTOKEN_ALLOWED_ORIGINS: site.origin,
    });
  });
  rooms = new RoomServiceClient(livekit.httpUrl, apiKey, apiSecret);
  await timed("launch chromium", async () => {
    // launch() gives Chromium a fresh temporary profile (--user-data-dir) of its own.
    browser = await chromium.launch({
      executablePath: process.env["CHROMIUM_BIN"] ?? "/usr/bin/chromium",
      headless: true,
      timeout: 60_000,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-loopback-in-peer-connection",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
      ],
    });
  });
  await mkdir(resultsDir, { recursive: true });
});

beforeEach(({ onTestFailed }) => {
  // The servers' side of a failure (JWTs redacted; lktoken logs none).
  onTestFailed(() => {
    console.log(`livekit-server output (last 40 lines):\n${livekit?.output.slice(-40).join("\n")}`);
    console.log(`lktoken log (last 20 lines):\n${lktoken?.logs.slice(-20).map((l) => JSON.stringify(l)).join("\n")}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await site?.stop();
  await lktoken?.stop();
  await livekit?.stop();
  console.log(`timings (ms): ${JSON.stringify(timings)}`);
});

describe("the example app in Chromium", () => {
  const roomName = `standup-${run}`;
  const identity = `ada-${run}`;
  let joined: { page: Page; traffic: Traffic } | undefined;

  it("joins with a token from lktoken and publishes the microphone, and only that", async () => {
    joined = await openApp({});
    const { page, traffic } = joined;
    await fill(page, { room: roomName, identity, name: "Ada Lovelace" });
    await timed("click Join → joined (token + connect + mic)", async () => {
      await page.click("button[type=submit]");
      // Joined, or a failure shown (the phase is "idle" before the click too).
      await page.waitForFunction(
        () =>
          document.querySelector("[data-testid=phase]")?.textContent === "joined" ||
          document.querySelector("[data-testid=failure]") !== null,
        undefined,
        { timeout: 60_000 },
      );
    });
    expect(await page.getByTestId("failure").count(), `page failure; console:\n${traffic.console.join("\n")}`).toBe(0);
    expect(await page.getByTestId("phase").textContent()).toBe("joined");
    expect(await page.getByTestId("connection").textContent()).toBe("connected");
    expect(await page.getByTestId("joined-as").textContent()).toBe(`${identity} in ${roomName}`);
    expect(await page.getByTestId("microphone").textContent()).toMatch(/^published audio track TR_\w+ \(microphone\)$/);

    // Cross-origin for real, answered for the page's origin. (Chromium's
    // preflight is not reported to the page; the disallowed-origin test
    // below shows it is enforced.)
    expect(traffic.lktoken).toEqual([{ method: "POST", status: 200, allowOrigin: site.origin }]);

    // The server lists a track once its first RTP packet arrived: media flowed.
    const listed = await timed("joined → server lists the audio track", () =>
      eventually("the participant's track in ListParticipants", 30_000, async () => {
        const ps = await participants(roomName);
        return ps.length === 1 && ps[0]!.tracks.length > 0 ? ps : undefined;
      }),
    );
    expect(listed.map((p) => p.identity)).toEqual([identity]);
    expect(listed[0]!.name).toBe("Ada Lovelace");
    expect(listed[0]!.tracks.map((t) => ({ type: t.type, source: t.source }))).toEqual([
      { type: TrackType.AUDIO, source: TrackSource.MICROPHONE },
    ]);
    expect(listed[0]!.permission?.canPublishSources).toEqual([TrackSource.MICROPHONE]);

    await page.screenshot({ path: join(resultsDir, "joined.png"), fullPage: true });
  });

  it("refuses a camera publish: the token grants the microphone only", async () => {
    expect(joined, "needs the joined page of the previous test").toBeDefined();
    const { page } = joined!;
    await timed("camera refusal", async () => {
      await page.click("text=Try camera");
      await page.getByTestId("camera").filter({ hasText: /^(refused|published|not published)/ }).waitFor({ timeout: 30_000 });
    });
    const camera = await page.getByTestId("camera").textContent();
    expect(camera).toMatch(/^refused: /);
    console.log(`camera: ${camera}`);
    const ps = await participants(roomName);
    expect(ps.map((p) => p.tracks.map((t) => TrackSource[t.source]))).toEqual([["MICROPHONE"]]);
    await page.screenshot({ path: join(resultsDir, "camera-refused.png"), fullPage: true });
    await page.click("text=Leave");
    await page.getByTestId("phase").filter({ hasText: "left" }).waitFor({ timeout: 30_000 });
    await page.close();
  });

  it("joins through the TokenSource: Join again reuses the token, fetches a fresh one within 60 s of expiry, and after the first token expired", async () => {
    // 70 s tokens: reused for their first 10 s, then due for refresh (the
    // 60 s margin of livekit-client's own cached token sources).
    const { page, traffic } = await openApp({ lifetime: "70" });
    const roomName2 = `rejoin-${run}`;
    const identity2 = `grace-${run}`;
    await fill(page, { room: roomName2, identity: identity2 });
    const join = async () => {
      await page.click("button[type=submit]");
      // Joined, or a failure shown (the phase is "idle" before the click too).
      await page.waitForFunction(
        () =>
          document.querySelector("[data-testid=phase]")?.textContent === "joined" ||
          document.querySelector("[data-testid=failure]") !== null,
        undefined,
        { timeout: 60_000 },
      );
      expect(await page.getByTestId("failure").count(), `page failure; console:\n${traffic.console.join("\n")}`).toBe(0);
      expect(await page.getByTestId("connection").textContent()).toBe("connected");
      return { token: await page.getByTestId("token-id").textContent(), expires: await page.getByTestId("expires").textContent() };
    };
    const leave = async () => {
      await page.click("text=Leave");
      await page.getByTestId("phase").filter({ hasText: "left" }).waitFor({ timeout: 30_000 });
    };
    const first = await timed("TokenSource: first join", join);
    expect(traffic.lktoken.filter((r) => r.method === "POST")).toHaveLength(1);
    const exp = Date.parse(first.expires ?? "");
    expect(exp - Date.now()).toBeGreaterThan(60_000);
    expect(exp - Date.now()).toBeLessThanOrEqual(70_000);

    await leave();
    const second = await timed("TokenSource: rejoin with the cached token", join);
    expect(second.token).toBe(first.token);
    expect(traffic.lktoken.filter((r) => r.method === "POST")).toHaveLength(1);

    await leave();
    // Wait until the token is within 60 s of its expiry (10 s after it was minted).
    await new Promise((r) => setTimeout(r, Math.max(0, exp - 60_000 - Date.now()) + 500));
    const third = await timed("TokenSource: rejoin after the token went stale", join);
    expect(third.token).not.toBe(first.token);
    expect(Date.parse(third.expires ?? "")).toBeGreaterThan(exp);
    expect(traffic.lktoken.filter((r) => r.method === "POST")).toHaveLength(2);
    // LiveKit took the fresh token: the participant is in the room again.
    const listed = await eventually("the rejoined participant", 30_000, async () => {
      const ps = await participants(roomName2);
      return ps.length === 1 && ps[0]!.tracks.length > 0 ? ps : undefined;
    });
    expect(listed.map((p) => p.identity)).toEqual([identity2]);

    // Past the first token's exp, Join again fetches yet another token (the
    // second is within 60 s of its expiry by now too). (livekit-server would
    // still take the first for a minute: go-jose's default leeway.)
    await leave();
    await new Promise((r) => setTimeout(r, Math.max(0, exp - Date.now()) + 1_000));
    const firstToken = await traffic.tokens[0]!;
    const claims = JSON.parse(Buffer.from(firstToken.split(".")[1]!, "base64url").toString()) as { exp: number };
    expect(claims.exp * 1000).toBe(exp);
    expect(Date.now()).toBeGreaterThan(claims.exp * 1000);
    const fourth = await timed("TokenSource: rejoin after the first token expired", join);
    expect([first.token, third.token]).not.toContain(fourth.token);
    expect(traffic.lktoken.filter((r) => r.method === "POST")).toHaveLength(3);
    const back = await eventually("the participant, back with a fresh token", 30_000, async () => {
      const ps = await participants(roomName2);
      return ps.length === 1 && ps[0]!.tracks.length > 0 ? ps : undefined;
    });
    expect(back.map((p) => p.identity)).toEqual([identity2]);
    await leave();
    await page.close();
  });

  const bad = { room: "   ", identity: "eve#1\u202e" };
  const badErrors = {
    roomName: "must not be only whitespace",
    participantIdentity:
      "must not contain '#' (LiveKit reserves it in identities); must not contain control or bidirectional-override characters",
  };

  async function fieldErrors(page: Page): Promise<Record<string, string>> {
    await page.getByTestId("error-roomName").waitFor({ timeout: 30_000 });
    const out: Record<string, string> = {};
    for (const field of ["roomName", "participantIdentity", "participantName"]) {
      const el = page.getByTestId(`error-${field}`);
      if ((await el.count()) > 0) {
        out[field] = (await el.textContent()) ?? "";
      }
    }
    return out;
  }

  it("shows the client-side field errors for a bad room name without a request", async () => {
    const { page, traffic } = await openApp({});
    // Validation (protovalidate) is not part of the initial load: it comes
    // when the form is first used.
    const chunk = await validationChunk();
    expect(traffic.scripts).not.toContain(chunk);
    await fill(page, bad);
    await expect.poll(() => traffic.scripts.includes(chunk), { timeout: 10_000 }).toBe(true);
    await page.click("button[type=submit]");
    expect(await fieldErrors(page)).toEqual(badErrors);
    expect(await page.locator("#room").getAttribute("aria-invalid")).toBe("true");
    expect(traffic.lktoken).toEqual([]);
    await page.screenshot({ path: join(resultsDir, "client-side-errors.png"), fullPage: true });
    await page.close();
  });

  it("with client-side validation off, shows the server's 400 the same way", async () => {
    const { page, traffic } = await openApp({ validate: "off" });
    await fill(page, bad);
    await page.click("button[type=submit]");
    expect(await fieldErrors(page)).toEqual(badErrors);
    expect(traffic.lktoken).toEqual([{ method: "POST", status: 400, allowOrigin: site.origin }]);
    await page.screenshot({ path: join(resultsDir, "server-errors.png"), fullPage: true });
    await page.close();
  });

  it("gives no token to a page from an origin lktoken does not allow", async () => {
    // The same app from a fourth origin, not in LKTOKEN_ALLOWED_ORIGINS.
    const other = await serveStatic(join(webClient, "dist/example/browser"));
    try {
      const { page, traffic } = await openApp({}, other.origin);
      await fill(page, { room: roomName, identity: `mallory-${run}` });
      await page.click("button[type=submit]");
      await page.getByTestId("failure").waitFor({ timeout: 30_000 });
      expect(await page.getByTestId("failure").textContent()).toMatch(/^token request failed: /);
      expect(await page.getByTestId("phase").textContent()).toBe("idle");
      // The preflight was refused, so the POST was never sent.
      expect(traffic.lktoken).toEqual([]);
      expect(traffic.console.some((l) => l.includes("blocked by CORS policy"))).toBe(true);
      await page.close();
    } finally {
      await other.stop();
    }
  });
});

describe("signed in with an OpenID Connect provider (Ory Hydra)", () => {
  // Hydra with a login-and-consent app that signs in one fixed user; lktoken
  // trusting it (LKTOKEN_OIDC_ISSUER/AUDIENCE); the example app signing in
  // with the authorization code flow and PKCE, then sending the access token
  // through the typed client's getAccessToken and leaving the identity to lktoken.
  const audience = `lktoken-web-${run}`;
  let hydra: RunningHydra;
  let verified: RunningLktoken;
  let clientId: string;

  beforeAll(async () => {
    const hydraBin = process.env["HYDRA_BIN"];
    if (!hydraBin) {
      throw new Error("HYDRA_BIN is not set: run this suite through test-browser/run.sh (npm run test:browser)");
    }
    await timed("start hydra", async () => {
      hydra = await startHydra(hydraBin, site.origin);
      clientId = await hydra.createPublicClient(`${site.origin}/`, audience);
    });
    await timed("start lktoken with OIDC", async () => {
      verified = await startVerified({});
    });
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.log(`hydra output (last 20 lines):\n${hydra?.output.slice(-20).map(redact).join("\n")}`);
      console.log(`OIDC lktoken log (last 20 lines):\n${verified?.logs.slice(-20).map((l) => JSON.stringify(l)).join("\n")}`);
    });
  });

  afterAll(async () => {
    await verified?.stop();
    await hydra?.stop();
  });

  it("signs in (authorization code + PKCE), gets a token with the access token, and joins as the Hydra subject", async () => {
    const { page, traffic } = await openApp({ issuer: hydra.issuer, client_id: clientId, audience }, site.origin, verified);
    const roomName = `signed-in-${run}`;
    await timed("sign in through Hydra", async () => {
      await page.getByTestId("sign-in").click();
      // Hydra, the login app, Hydra, the consent app, Hydra, back to the app.
      await page.getByTestId("signed-in").waitFor({ timeout: 30_000 });
    });
    expect(await page.getByTestId("signed-in").textContent(), traffic.console.join("\n")).toBe(`signed in as ${TEST_USER.subject}`);
    expect(new URL(page.url()).searchParams.get("code"), "the code is gone from the address").toBeNull();

    // No identity typed: lktoken takes it from the verified token.
    await fill(page, { room: roomName, identity: "" });
    await timed("signed in: click Join → joined", async () => {
      await page.click("button[type=submit]");
      // Joined, or a failure shown (the phase is "idle" before the click too).
      await page.waitForFunction(
        () =>
          document.querySelector("[data-testid=phase]")?.textContent === "joined" ||
          document.querySelector("[data-testid=failure]") !== null,
        undefined,
        { timeout: 60_000 },
      );
    });
    expect(await page.getByTestId("failure").count(), `page failure; console:\n${traffic.console.join("\n")}`).toBe(0);
    expect(await page.getByTestId("joined-as").textContent()).toBe(`${TEST_USER.subject} in ${roomName}`);
    expect(traffic.lktoken).toEqual([{ method: "POST", status: 200, allowOrigin: site.origin }]);

    const listed = await eventually("the signed-in participant's track in ListParticipants", 30_000, async () => {
      const ps = await participants(roomName);
      return ps.length === 1 && ps[0]!.tracks.length > 0 ? ps : undefined;
    });
    expect(listed.map((p) => p.identity)).toEqual([TEST_USER.subject]);
    // The display name came from the token's name claim (the request sent none).
    expect(listed[0]!.name).toBe(TEST_USER.name);
    // lktoken's audit line names the principal: Hydra's issuer and the subject.
    const audit = verified.logs.find((l) => JSON.stringify(l).includes(roomName));
    expect(JSON.stringify(audit)).toContain(TEST_USER.subject);
    await page.screenshot({ path: join(resultsDir, "signed-in.png"), fullPage: true });

    // The same app without signing in gets no token from this lktoken.
    const anon = await openApp({}, site.origin, verified);
    await fill(anon.page, { room: roomName, identity: "mallory" });
    await anon.page.click("button[type=submit]");
    await anon.page.getByTestId("failure").waitFor({ timeout: 30_000 });
    expect(await anon.page.getByTestId("failure").textContent()).toMatch(/^sign in again: this server requires "Authorization: Bearer/);
    await anon.page.close();

    await page.getByRole("button", { name: "Leave", exact: true }).click();
    await page.getByTestId("phase").filter({ hasText: "left" }).waitFor({ timeout: 30_000 });
    await page.close();
  });

  /** Clicks Join and waits until the page joined (asserting no failure shows). */
  async function clickJoin(app: { page: Page; traffic: Traffic }): Promise<void> {
    await app.page.click("button[type=submit]");
    await app.page.waitForFunction(
      () =>
        document.querySelector("[data-testid=phase]")?.textContent === "joined" ||
        document.querySelector("[data-testid=failure]") !== null,
      undefined,
      { timeout: 60_000 },
    );
    expect(await app.page.getByTestId("failure").count(), `page failure; console:\n${app.traffic.console.join("\n")}`).toBe(0);
  }

  /** A new browser context: the app against `server`, signed in through Hydra as TEST_USER, joined to `room`. */
  async function signedInSession(server: RunningLktoken, room: string): Promise<{ page: Page; traffic: Traffic }> {
    const app = await openApp({ issuer: hydra.issuer, client_id: clientId, audience }, site.origin, server);
    await app.page.getByTestId("sign-in").click();
    await app.page.getByTestId("signed-in").waitFor({ timeout: 30_000 });
    await fill(app.page, { room, identity: "" });
    await clickJoin(app);
    return app;
  }

  /** The room's participants, once `n` of them are listed with their audio track. */
  async function listedWithTracks(room: string, n: number): Promise<ParticipantInfo[]> {
    return eventually(`${n} participants with their tracks in ${room}`, 30_000, async () => {
      const ps = await participants(room);
      return ps.length === n && ps.every((p) => p.tracks.length > 0) ? ps : undefined;
    });
  }

  /** lktoken trusting Hydra, with `env` added; ready once Hydra's keys are loaded (/readyz is 503 before). */
  async function startVerified(env: Record<string, string>): Promise<RunningLktoken> {
    const server = await startLktoken(await lktokenBinary(), {
      LIVEKIT_API_KEY: apiKey,
      LIVEKIT_API_SECRET: apiSecret,
      LIVEKIT_URL: livekit.wsUrl,
      LKTOKEN_ALLOWED_ORIGINS: site.origin,
      LKTOKEN_OIDC_ISSUER: hydra.issuer,
      LKTOKEN_OIDC_AUDIENCE: audience,
      ...env,
    });
    await eventually("lktoken ready with Hydra's keys", 30_000, async () => ((await fetch(`${server.baseUrl}/readyz`)).ok ? true : undefined));
    return server;
  }

  const summary = (ps: ParticipantInfo[]) => ps.map((p) => ({ identity: p.identity, name: p.name, attributes: p.attributes }));

  it("identity mode exclusive (the default): the same user's second session disconnects the first with DUPLICATE_IDENTITY", async () => {
    const room = `exclusive-${run}`;
    const first = await signedInSession(verified, room);
    await listedWithTracks(room, 1);
    const second = await signedInSession(verified, room);
    await first.page.getByTestId("disconnect-reason").filter({ hasText: /^(?!-$)/ }).waitFor({ timeout: 30_000 });
    expect(await first.page.getByTestId("disconnect-reason").textContent()).toBe("DUPLICATE_IDENTITY");
    expect(await first.page.getByTestId("connection").textContent()).toBe("disconnected");
    expect(await second.page.getByTestId("connection").textContent()).toBe("connected");
    expect(await second.page.getByTestId("disconnect-reason").textContent()).toBe("-");
    const ps = await listedWithTracks(room, 1);
    console.log(`exclusive: livekit-server lists ${JSON.stringify(summary(ps))}`);
    expect(ps.map((p) => p.identity)).toEqual([TEST_USER.subject]);
    await first.page.close();
    await second.page.close();
  });

  it("identity mode per-session: both sessions stay, as two identities carrying the same lktoken.subject", async () => {
    const server = await startVerified({ LKTOKEN_IDENTITY_MODE: "per-session" });
    try {
      const room = `per-session-${run}`;
      const first = await signedInSession(server, room);
      const second = await signedInSession(server, room);
      const ps = await listedWithTracks(room, 2);
      console.log(`per-session: livekit-server lists ${JSON.stringify(summary(ps))}`);
      const ids = ps.map((p) => p.identity);
      expect(new Set(ids).size).toBe(2);
      for (const p of ps) {
        expect(p.identity).toMatch(new RegExp(`^${TEST_USER.subject}~[0-9A-Za-z]{8}$`));
        expect(p.attributes).toEqual({ "lktoken.subject": TEST_USER.subject });
      }
      for (const s of [first, second]) {
        expect(await s.page.getByTestId("connection").textContent()).toBe("connected");
        expect(await s.page.getByTestId("disconnect-reason").textContent()).toBe("-");
        expect(ids).toContain((await s.page.getByTestId("joined-as").textContent())?.replace(` in ${room}`, ""));
        await s.page.close();
      }
    } finally {
      await server.stop();
    }
  });

  it("identity mode per-session,pseudonymous: the Hydra subject appears nowhere in the tokens, LiveKit's participant list or lktoken's log", async () => {
    const key = randomBytes(36).toString("base64url");
    const server = await startVerified({ LKTOKEN_IDENTITY_MODE: "per-session,pseudonymous", LKTOKEN_PSEUDONYM_KEY: key });
    try {
      const room = `pseudonymous-${run}`;
      const sessions = [await signedInSession(server, room), await signedInSession(server, room)];
      const ps = await listedWithTracks(room, 2);
      console.log(`per-session,pseudonymous: livekit-server lists ${JSON.stringify(summary(ps))}`);
      // The documented pseudonym: HMAC-SHA256(key, issuer NUL subject), 128 bits in lower-case base32.
      const pseudonym = base32(createHmac("sha256", key).update(`${hydra.issuer}\0${TEST_USER.subject}`).digest().subarray(0, 16));
      for (const p of ps) {
        expect(p.identity).toMatch(new RegExp(`^${pseudonym}~[0-9A-Za-z]{8}$`));
        expect(p.attributes).toEqual({ "lktoken.subject": pseudonym });
        expect(p.name).toBe(""); // the name claim is personal data too
      }
      const tokens = await Promise.all(sessions.map((s) => s.traffic.tokens[0]!));
      const payloads = tokens.map((t) => Buffer.from(t.split(".")[1]!, "base64url").toString());
      const logs = JSON.stringify(server.logs);
      const mints = server.logs.filter((l) => l["msg"] === "mint");
      expect(mints.map((l) => [l["outcome"], l["principal_issuer"], l["principal_subject"]])).toEqual([
        ["issued", hydra.issuer, pseudonym],
        ["issued", hydra.issuer, pseudonym],
      ]);
      for (const [where, text] of [["the tokens", payloads.join("\n")], ["LiveKit's participant list", JSON.stringify(summary(ps))], ["lktoken's log", logs]] as const) {
        expect(text, where).not.toContain(TEST_USER.subject);
        expect(text, where).not.toContain(TEST_USER.name);
      }
      for (const s of sessions) {
        await s.page.close();
      }
    } finally {
      await server.stop();
    }
  });

  it("follows its caller: signed in as one user, joined, signed out, signed in as another on the same page, joins as the other", async () => {
    const app = await openApp({ issuer: hydra.issuer, client_id: clientId, audience }, site.origin, verified);
    const { page, traffic } = app;
    const room = `switch-${run}`;
    await page.getByTestId("sign-in").click();
    await page.getByTestId("signed-in").waitFor({ timeout: 30_000 });
    await fill(page, { room, identity: "" });
    await clickJoin(app);
    expect(await page.getByTestId("joined-as").textContent()).toBe(`${TEST_USER.subject} in ${room}`);
    expect((await listedWithTracks(room, 1)).map((p) => p.identity)).toEqual([TEST_USER.subject]);
    await page.getByRole("button", { name: "Leave", exact: true }).click();
    await page.getByTestId("phase").filter({ hasText: "left" }).waitFor({ timeout: 30_000 });

    // Sign out, and in again as the second user in a popup: this page, its
    // token source and its cached token (valid for an hour) stay.
    await page.getByTestId("sign-out").click();
    await page.fill("#login-hint", SECOND_USER.subject);
    await page.getByTestId("sign-in-popup").click();
    await page.getByTestId("signed-in").filter({ hasText: SECOND_USER.subject }).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("signed-in").textContent()).toBe(`signed in as ${SECOND_USER.subject}`);
    await clickJoin(app);
    expect(await page.getByTestId("joined-as").textContent()).toBe(`${SECOND_USER.subject} in ${room}`);
    // A fresh token, not the first user's from the cache.
    expect(traffic.lktoken.filter((r) => r.method === "POST")).toHaveLength(2);
    const ps = await eventually(`${SECOND_USER.subject} in ${room}`, 30_000, async () => {
      const ps = await participants(room);
      return ps.length === 1 && ps[0]!.identity === SECOND_USER.subject && ps[0]!.tracks.length > 0 ? ps : undefined;
    });
    console.log(`user switch: livekit-server lists ${JSON.stringify(summary(ps))}`);
    expect(ps[0]!.name).toBe(SECOND_USER.name);
    await page.close();
  });
});

/** RFC 4648 base32 in lower case without padding (the pseudonym's encoding). */
function base32(bytes: Uint8Array): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) {
    out += alphabet[(value << (5 - bits)) & 31];
  }
  return out;
}
