import { describe, expect, it } from "vitest";
import {
  createEnvironmentInjector,
  EnvironmentInjector,
  inject,
  InjectionToken,
  Injector,
  runInInjectionContext,
} from "@angular/core";
import type { Interceptor } from "@connectrpc/connect";
import { provideTokenClient, TOKEN_CLIENT, TOKEN_CLIENT_INTERCEPTORS } from "../src/angular.js";
import type { TokenClient } from "../src/index.js";
import * as validation from "../src/validation.js";

function injectorWith(...providers: Parameters<typeof createEnvironmentInjector>[0]): EnvironmentInjector {
  const root = Injector.create({ providers: [] }) as unknown as EnvironmentInjector;
  return createEnvironmentInjector(providers, root);
}

function recordingFetch(calls: Request[]): typeof globalThis.fetch {
  return async (input, init) => {
    calls.push(new Request(input, init));
    return new Response(JSON.stringify({ token: "t", roomName: "r", participantIdentity: "u", serverUrl: "ws://x" }), {
      status: 200,
      headers: { "Content-Type": "application/json" },
    });
  };
}

describe("provideTokenClient", () => {
  it("provides one TOKEN_CLIENT per injector, on the configured base URL", async () => {
    const calls: Request[] = [];
    const env = injectorWith(provideTokenClient({ baseUrl: "http://tokens.test", fetch: recordingFetch(calls) }));
    const client: TokenClient = runInInjectionContext(env, () => env.get(TOKEN_CLIENT));
    expect(env.get(TOKEN_CLIENT)).toBe(client);
    const res = await client.generateToken({ roomName: "r", participantIdentity: "u" });
    expect(res.token).toBe("t");
    expect(calls.map((r) => r.url)).toEqual(["http://tokens.test/lktoken.v1.TokenService/GenerateToken"]);
  });

  it("runs configured interceptors, then TOKEN_CLIENT_INTERCEPTORS, and still validates first", async () => {
    const calls: Request[] = [];
    const order: string[] = [];
    const tag =
      (name: string): Interceptor =>
      (next) =>
      (req) => {
        order.push(name);
        req.header.append("x-tag", name);
        return next(req);
      };
    const env = injectorWith(
      provideTokenClient({
        baseUrl: "http://tokens.test",
        fetch: recordingFetch(calls),
        interceptors: [tag("config")],
        validate: validation,
      }),
      { provide: TOKEN_CLIENT_INTERCEPTORS, multi: true, useValue: tag("auth") },
    );
    const client = env.get(TOKEN_CLIENT);
    await client.generateToken({ roomName: "r", participantIdentity: "u" });
    expect(order).toEqual(["config", "auth"]);
    expect(calls[0]?.headers.get("x-tag")).toBe("config, auth");
    await expect(client.generateToken({ roomName: " ", participantIdentity: "u" })).rejects.toThrow(
      "room_name: must not be only whitespace",
    );
    expect(order).toEqual(["config", "auth"]);
    expect(calls).toHaveLength(1);
  });

  it("calls getAccessToken per request, in the injector's context, and sends the bearer token", async () => {
    const calls: Request[] = [];
    const SESSION = new InjectionToken<{ token: string }>("session");
    const session = { token: "first" };
    const env = injectorWith(
      provideTokenClient({ baseUrl: "http://tokens.test", fetch: recordingFetch(calls), getAccessToken: () => inject(SESSION).token }),
      { provide: SESSION, useValue: session },
    );
    const client = env.get(TOKEN_CLIENT);
    await client.generateToken({ roomName: "r", participantIdentity: "u" });
    session.token = "refreshed";
    await client.generateToken({ roomName: "r", participantIdentity: "u" });
    expect(calls.map((r) => r.headers.get("authorization"))).toEqual(["Bearer first", "Bearer refreshed"]);
  });
});
