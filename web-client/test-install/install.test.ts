// The package installed the three ways a team would, into a FRESH Angular 21
// app made by `ng new` from the npm registry, built with the default budgets
// `ng new` writes, and run in Chromium against the real lktoken binary:
//
//   1. the packed tarball (scripts/pack.sh, what `make web-client-pack` builds);
//   2. a `file:` dependency on this folder, as npm links it by default: the
//      app then bundles a second @angular/core (web-client's own dev copy)
//      and fails with NG0203 — shown here so the test proves it can tell;
//   3. the same `file:` dependency with --install-links (npm copies the
//      package like a tarball), peers resolved from the app: it works.
//
// One app, three installs over each other; npm's cache is reused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { lktokenBinary, repoRoot, startLktoken, type RunningLktoken } from "../test/support/lktoken.js";
import { serveStatic, type RunningStatic } from "../test/support/static.js";

const run = promisify(execFile);
const web = resolve(repoRoot, "web-client");
let work: string;
let app: string;
let tarball: string;
let lktoken: RunningLktoken;
let browser: Browser;
/** Serves dist/fresh/browser of the app, whichever build is there now. */
let site: RunningStatic;
const timings: Record<string, number> = {};

async function sh(what: string, cmd: string, args: string[], cwd: string): Promise<string> {
  const start = performance.now();
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, maxBuffer: 64 << 20, timeout: 600_000, env: { ...process.env, NG_CLI_ANALYTICS: "false", CI: "true" } });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${what} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  } finally {
    timings[what] = Math.round(performance.now() - start);
  }
}

const npmInstall = (what: string, ...args: string[]) =>
  sh(what, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...args], app);

/** ng build (production, the app's own budgets); returns the build output. */
async function build(what: string): Promise<string> {
  await rm(join(app, "dist"), { recursive: true, force: true });
  const out = await sh(what, "npx", ["ng", "build"], app);
  expect(out, "a budget was exceeded").not.toMatch(/budget/i);
  return out;
}

/** Serves the built app, opens it in Chromium, returns what the page showed and logged. */
async function openApp(): Promise<{ token: string; refused: string; console: string[] }> {
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  try {
    await page.goto(`${site.origin}/?tokens=${encodeURIComponent(lktoken.baseUrl)}`);
    // Until both answers are on the page, or the page logged an error.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !logs.some((l) => /^(error|pageerror)/.test(l))) {
      const body = await page.locator("body").innerText();
      if (body.includes("ng21") && !body.includes("pending")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const text = async (id: string) => ((await page.getByTestId(id).count()) > 0 ? ((await page.getByTestId(id).textContent()) ?? "") : "");
    return { token: await text("token"), refused: await text("refused"), console: logs };
  } finally {
    await page.close();
  }
}

function initialTotal(buildOutput: string): string {
  return /Initial total\s*\|\s*([\d.]+ kB)\s*\|\s*([\d.]+ kB)/.exec(buildOutput)?.slice(1).join(" raw, ") ?? "?";
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "lktoken-fresh-app-"));
  app = join(work, "fresh");
  site = await serveStatic(join(app, "dist/fresh/browser"));
  lktoken = await startLktoken(await lktokenBinary(), {
    LIVEKIT_API_KEY: "fresh-app",
    LIVEKIT_API_SECRET: randomBytes(32).toString("base64url"),
    LIVEKIT_URL: "ws://127.0.0.1:7880",
    LKTOKEN_ALLOWED_ORIGINS: site.origin,
  });
  tarball = (await sh("pack", join(web, "scripts/pack.sh"), [work], web)).trim().split("\n").pop()!;
  // The CLI at the version of the @angular/build this package develops with:
  // `ng new` asks for ^<its own version> of @angular/build, which the
  // registry mirror must have, and npm's cache holds most of what it installs.
  const cli = JSON.parse(await readFile(join(web, "node_modules/@angular/build/package.json"), "utf8")) as { version: string };
  await sh("ng new", "npx", ["-y", "--prefer-offline", `@angular/cli@${cli.version}`, "new", "fresh", "--defaults", "--skip-git",
    "--skip-install", "--skip-tests", "--ssr=false", "--style=css", "--ai-config=none"], work);
  await npmInstall("npm install (the fresh app)");
  for (const f of ["app.ts", "app.config.ts"]) {
    await cp(join(web, "test-install/app", f), join(app, "src/app", f));
  }
  await rm(join(app, "src/app/app.html"), { force: true });
  await rm(join(app, "src/app/app.css"), { force: true });
  browser = await chromium.launch({
    executablePath: process.env["CHROMIUM_BIN"] ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await site?.stop();
  await lktoken?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  console.log(`timings (ms): ${JSON.stringify(timings)}`);
});

const works = (got: { token: string; refused: string; console: string[] }) => {
  expect(got.token, got.console.join("\n")).toMatch(/^ng21 in fresh-app until \d{4}-\d\d-\d\dT/);
  expect(got.refused).toBe("roomName: must not be only whitespace");
  expect(got.console.filter((l) => /^(error|pageerror)/.test(l))).toEqual([]);
};

describe("a fresh Angular 21 app", () => {
  it("installs the packed tarball, builds within the default budgets, and gets a token in Chromium", async () => {
    const pkg = JSON.parse(await readFile(join(app, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.dependencies["@angular/core"]).toMatch(/^\^21\.2\./);
    const angularJson = JSON.parse(await readFile(join(app, "angular.json"), "utf8")) as {
      projects: { fresh: { architect: { build: { configurations: { production: { budgets: unknown } } } } } };
    };
    // The budgets `ng new` writes, untouched.
    expect(angularJson.projects.fresh.architect.build.configurations.production.budgets).toEqual([
      { type: "initial", maximumWarning: "500kB", maximumError: "1MB" },
      { type: "anyComponentStyle", maximumWarning: "4kB", maximumError: "8kB" },
    ]);
    await npmInstall("npm install the tarball", tarball);
    const out = await build("ng build (tarball)");
    console.log(`tarball: initial ${initialTotal(out)} transferred; lazy chunks: ${/Lazy chunk files[\s\S]*?(?=\n\n|Application)/.exec(out)?.[0].split("\n").slice(1).map((l) => l.trim()).join("; ")}`);
    works(await openApp());
  });

  it("a file: dependency linked as npm does by default bundles a second @angular/core: NG0203", async () => {
    await npmInstall("npm install file: (linked)", `file:${web}`);
    await build("ng build (file:, linked)");
    const got = await openApp();
    expect(got.console.join("\n")).toContain("NG0203");
    console.log(`linked file: dependency: ${got.console.find((l) => l.includes("NG0203"))?.slice(0, 200)}`);
    expect(got.token).not.toMatch(/^ng21 in/);
  });

  it("the same file: dependency with --install-links resolves the peers from the app and works", async () => {
    await npmInstall("npm install file: --install-links", "--install-links", `file:${web}`);
    await build("ng build (file:, --install-links)");
    works(await openApp());
  });
});
