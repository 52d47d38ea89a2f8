// Builds and runs the real lktoken binary for tests: 127.0.0.1, a port the
// kernel picks (the server logs the address it got), stopped by PID.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createInterface } from "node:readline";

/** The repository root (web-client's parent). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * The lktoken binary: $LKTOKEN_BIN when set (the Makefile passes bin/lktoken),
 * otherwise built from this checkout into a temporary directory.
 */
export async function lktokenBinary(): Promise<string> {
  if (process.env["LKTOKEN_BIN"]) {
    return resolve(process.env["LKTOKEN_BIN"]);
  }
  const out = join(await mkdtemp(join(tmpdir(), "lktoken-web-")), "lktoken");
  await promisify(execFile)("go", ["build", "-o", out, "./cmd/lktoken"], { cwd: repoRoot, timeout: 300_000 });
  return out;
}

export interface RunningLktoken {
  /** e.g. "http://127.0.0.1:41234" */
  baseUrl: string;
  /** Every JSON line the server wrote to stderr so far, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts lktoken with the given environment (added to a minimal one) and waits until it listens. */
export async function startLktoken(bin: string, env: Record<string, string>, args: string[] = []): Promise<RunningLktoken> {
  const child = spawn(bin, ["--listen", "127.0.0.1:0", ...args], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const addr = await new Promise<string>((resolveAddr, reject) => {
    const timer = setTimeout(() => reject(new Error(`lktoken did not listen within 30s:\n${raw.join("\n")}`)), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`lktoken exited with ${code}:\n${raw.join("\n")}`));
    });
    createInterface({ input: child.stderr! }).on("line", (line) => {
      raw.push(line);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry["msg"] === "listening" && typeof entry["addr"] === "string") {
          clearTimeout(timer);
          resolveAddr(entry["addr"]);
        }
      } catch {
        // not JSON: kept in raw for the failure message only
      }
    });
  });
  return { baseUrl: `http://${addr}`, logs, stop: () => stopProcess(child) };
}

/** SIGTERM by PID, then SIGKILL if it has not exited after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
