// The core stays small: what an app pays for createTokenClient and the
// Angular providers, bundled the way an app bundler would (esbuild, minified,
// ESM for browsers) and gzipped at level 9. @angular/core and livekit-client
// are the app's own and left out. The budget is 37 KB: protobuf-es and
// connect-web alone cost 34.7 KB, and protovalidate (its CEL interpreter and
// the buf.validate schema, ~70 KB gzipped) belongs in the on-demand
// "@lktoken/web-client/validation" entry only.
import { describe, expect, it } from "vitest";
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(fileURLToPath(import.meta.url), "../..");
const KB = 1000;

interface Bundle {
  /** minified bytes of each output file (entry and chunks), by name */
  files: { name: string; bytes: number; gzip: number; text: string }[];
  /** the output files each one imports statically (not through import()) */
  staticImports: Map<string, string[]>;
}

/** Bundles `entries` (name → source text), with code splitting so dynamic imports become chunks. */
async function bundle(entries: Record<string, string>): Promise<Bundle> {
  const stdin = Object.entries(entries);
  const result = await build({
    entryPoints: stdin.map(([name]) => ({ in: `virtual:${name}`, out: name })),
    plugins: [
      {
        name: "virtual",
        setup(b) {
          b.onResolve({ filter: /^virtual:/ }, (args) => ({ path: args.path.slice(8), namespace: "virtual" }));
          b.onLoad({ filter: /.*/, namespace: "virtual" }, (args) => ({
            contents: entries[args.path],
            resolveDir: web,
            loader: "ts",
          }));
        },
      },
    ],
    bundle: true,
    minify: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outdir: "/out",
    write: false,
    // ../gen/ts has no node_modules: resolve its imports from this package.
    nodePaths: [resolve(web, "node_modules")],
    external: ["@angular/core", "livekit-client"],
    logLevel: "silent",
    metafile: true,
  });
  const staticImports = new Map<string, string[]>();
  for (const [path, out] of Object.entries(result.metafile.outputs)) {
    staticImports.set(
      basename(path),
      out.imports.filter((i) => i.kind === "import-statement" && !i.external).map((i) => basename(i.path)),
    );
  }
  return {
    staticImports,
    files: result.outputFiles.map((f) => ({
      name: basename(f.path),
      bytes: f.contents.length,
      gzip: gzipSync(f.contents, { level: 9 }).length,
      text: f.text,
    })),
  };
}

/** `entry` and every output file it loads statically: what a page loads before anything runs. */
function initialFiles(b: Bundle, entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (!seen.has(name)) {
      seen.add(name);
      (b.staticImports.get(name) ?? []).forEach(visit);
    }
  };
  visit(entry);
  return seen;
}

function total(b: Bundle, pick: (name: string) => boolean = () => true): { bytes: number; gzip: number } {
  const files = b.files.filter((f) => pick(f.name));
  return { bytes: files.reduce((n, f) => n + f.bytes, 0), gzip: files.reduce((n, f) => n + f.gzip, 0) };
}

function show(what: string, s: { bytes: number; gzip: number }): string {
  return `${what}: ${(s.bytes / KB).toFixed(1)} KB minified, ${(s.gzip / KB).toFixed(1)} KB gzipped`;
}

describe("bundle size", () => {
  it("the core (createTokenClient, error mapping, the Angular providers) is at most 37 KB gzipped", async () => {
    const b = await bundle({
      core: `
        import * as core from "./src/index.ts";
        import * as angular from "./src/angular.ts";
        console.log(core, angular);
      `,
    });
    const size = total(b);
    console.log(show("core, every export", size));
    expect(b.files.map((f) => f.name)).toEqual(["core.js"]);
    // protovalidate's schema and runtime must not creep back in.
    const text = b.files[0]!.text;
    expect(text).not.toMatch(/cel\.expr\.Expr|value is required/); // CEL, protovalidate
    expect(size.gzip).toBeLessThanOrEqual(37 * KB);
  });

  it("the validation entry loads on demand: an app's import() makes it a chunk of its own", async () => {
    const b = await bundle({
      app: `
        import { createTokenClient } from "./src/index.ts";
        import { provideTokenClient } from "./src/angular.ts";
        console.log(provideTokenClient, createTokenClient("/", { validate: () => import("./src/validation.ts") }));
      `,
    });
    const first = initialFiles(b, "app.js");
    const initial = total(b, (n) => first.has(n));
    const lazy = total(b, (n) => !first.has(n));
    console.log(show("app initial (core)", initial));
    console.log(show("validation, loaded on first use", lazy));
    // The core as above, plus what splitting adds: chunk import/export names.
    expect(initial.gzip).toBeLessThanOrEqual(38 * KB);
    for (const f of b.files.filter((f) => first.has(f.name))) {
      expect(f.text).not.toMatch(/cel\.expr\.Expr|value is required/);
    }
    // The lazy chunks really hold the validator (and stay bounded).
    expect(b.files.some((f) => !first.has(f.name) && /cel\.expr\.Expr/.test(f.text) && f.text.includes("value is required"))).toBe(true);
    expect(lazy.gzip).toBeLessThanOrEqual(80 * KB);
  });
});
