// Runs the real livekit-server (built by e2e/livekit/build.sh) on loopback
// only, with a key and secret made for this run.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopProcess } from "./lktoken.js";

export interface RunningLivekit {
  /** e.g. "http://127.0.0.1:40123" (Twirp, /rtc/validate) */
  httpUrl: string;
  /** e.g. "ws://127.0.0.1:40123" (what clients connect to) */
  wsUrl: string;
  /** Output so far, with anything that looks like a JWT redacted. */
  output: string[];
  stop(): Promise<void>;
}

/** A TCP port the kernel hands out on 127.0.0.1, released for the caller. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A UDP port the kernel hands out on 127.0.0.1, released for the caller. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    sock.once("error", reject);
    sock.bind(0, "127.0.0.1", () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/** Redacts JWTs (livekit-server echoes a refused token). */
export function redact(line: string): string {
  return line.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, "<token>");
}

/**
 * Starts livekit-server on 127.0.0.1 with the loopback-only configuration of
 * e2e/README.md and waits until it answers HTTP.
 */
export async function startLivekit(bin: string, apiKey: string, apiSecret: string): Promise<RunningLivekit> {
  const port = await freeTcpPort();
  const udpPort = await freeUdpPort();
  const dir = await mkdtemp(join(tmpdir(), "lktoken-livekit-"));
  const config = join(dir, "livekit.yaml");
  // JSON is YAML: no YAML writer needed.
  await writeFile(
    config,
    JSON.stringify({
      port,
      bind_addresses: ["127.0.0.1"],
      keys: { [apiKey]: apiSecret },
      log_level: "info",
      rtc: {
        udp_port: udpPort,
        // The ICE/TCP listener ignores bind_addresses: keep it off.
        tcp_port: 0,
        use_external_ip: false,
        node_ip: "127.0.0.1",
        enable_loopback_candidate: true,
        ips: { includes: ["127.0.0.1/32"] },
        // A placeholder: without it the server hands clients public STUN servers.
        stun_servers: ["127.0.0.1:3478"],
      },
    }),
  );
  const child = spawn(bin, ["--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => output.push(...redact(chunk.toString()).split("\n").filter((l) => l !== ""));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`livekit-server exited with ${child.exitCode}:\n${output.join("\n")}`);
    }
    try {
      const res = await fetch(httpUrl, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`livekit-server did not answer within 60s:\n${output.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}`,
    output,
    // The first SIGTERM drains rooms, which can take long; a short grace then SIGKILL.
    stop: () => stopProcess(child, 5_000),
  };
}
