// The OpenAPI 3.1 document generated from the proto (gen/openapi, by
// protoc-gen-connect-openapi through buf.gen.yaml) is valid OpenAPI, and
// every operation it documents answers as described when POSTed to the real
// lktoken binary: the documented request gets a 200 whose body matches the
// documented response schema, and a request that breaks the documented rules
// gets an error matching the documented error schema.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { lktokenBinary, repoRoot, startLktoken, type RunningLktoken } from "./support/lktoken.js";

const documentPath = resolve(repoRoot, "gen/openapi/lktoken.openapi.yaml");

type Schema = Record<string, unknown>;
interface Operation {
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema }[];
  requestBody: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content: Record<string, { schema: Schema }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

let server: RunningLktoken;
let doc: Document;

beforeAll(async () => {
  server = await startLktoken(await lktokenBinary(), {
    LIVEKIT_API_KEY: `openapi-${randomBytes(4).toString("hex")}`,
    LIVEKIT_API_SECRET: randomBytes(32).toString("base64url"),
    LIVEKIT_URL: "ws://127.0.0.1:7880",
    LKTOKEN_ALLOWED_ORIGINS: "http://localhost:4200",
  });
});

afterAll(async () => {
  await server?.stop();
});

/** The documented headers: each required one with its const/enum value. */
function headers(op: Operation): Record<string, string> {
  const out: Record<string, string> = { "Content-Type": "application/json" };
  for (const p of op.parameters ?? []) {
    if (p.in === "header" && p.required) {
      const value = p.schema?.["const"] ?? (p.schema?.["enum"] as unknown[] | undefined)?.[0];
      expect(value, `a value for required header ${p.name}`).toBeDefined();
      out[p.name] = String(value);
    }
  }
  return out;
}

/**
 * A request body built from the documented schema: every required string
 * property, made up. Plus participantIdentity: a server that does not verify
 * its callers (this one) needs it even where the contract leaves it to
 * servers that fill it in from a verified identity (its description says so).
 */
function minimalRequest(schema: Schema): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const props = schema["properties"] as Record<string, Schema>;
  const required = new Set([...((schema["required"] as string[] | undefined) ?? []), "participantIdentity"]);
  for (const name of required) {
    expect(props[name]?.["type"], `${name} is a documented string`).toBe("string");
    body[name] = `openapi-${name}`;
  }
  return body;
}

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator, the official JSON schemas)", async () => {
    const validator = new Validator();
    const res = await validator.validate(documentPath);
    expect(res.errors, JSON.stringify(res.errors, null, 2)).toBeUndefined();
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    doc = validator.resolveRefs() as unknown as Document;
    expect(Object.keys(doc.paths)).toEqual(["/lktoken.v1.TokenService/GenerateToken"]);
  });

  it("every documented operation answers the real binary as described", async () => {
    expect(doc, "needs the validated document").toBeDefined();
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }) // the date-time is checked below;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(method).toBe("post");
        const requestSchema = op.requestBody.content["application/json"]!.schema;
        const okSchema = op.responses["200"]!.content["application/json"]!.schema;
        const errorSchema = op.responses["default"]!.content["application/json"]!.schema;

        // The documented request: the required fields only.
        const body = minimalRequest(requestSchema);
        expect(ajv.validate(requestSchema, body), JSON.stringify(ajv.errors)).toBe(true);
        const ok = await fetch(`${server.baseUrl}${path}`, { method: "POST", headers: headers(op), body: JSON.stringify(body) });
        const okBody = (await ok.json()) as Record<string, unknown>;
        expect(ok.status, JSON.stringify(okBody)).toBe(200);
        expect(ajv.validate(okSchema, okBody), JSON.stringify(ajv.errors)).toBe(true);
        // Every documented response property is there, the timestamp as RFC 3339.
        expect(Object.keys(okBody).sort()).toEqual(Object.keys(okSchema["properties"] as object).sort());
        expect(Date.parse(String(okBody["expiresAt"]))).toBeGreaterThan(Date.now());

        // Breaking the documented rules: the documented error, naming the field.
        const required = (requestSchema["required"] as string[])[0]!;
        const bad = { ...body, [required]: "   " };
        const refused = await fetch(`${server.baseUrl}${path}`, { method: "POST", headers: headers(op), body: JSON.stringify(bad) });
        const refusedBody = (await refused.json()) as Record<string, unknown>;
        expect(refused.status).toBe(400);
        expect(ajv.validate(errorSchema, refusedBody), JSON.stringify(ajv.errors)).toBe(true);
        expect(refusedBody["code"]).toBe("invalid_argument");
        const protoName = (requestSchema["properties"] as Record<string, Schema>)[required]!["title"];
        expect(refusedBody["message"]).toContain(`${String(protoName)}: must not be only whitespace`);

        // A documented bound: expirationSeconds' minimum.
        const min = (requestSchema["properties"] as Record<string, Schema>)["expirationSeconds"]?.["minimum"] as number;
        const short = await fetch(`${server.baseUrl}${path}`, {
          method: "POST",
          headers: headers(op),
          body: JSON.stringify({ ...body, expirationSeconds: min - 1 }),
        });
        expect(short.status).toBe(400);
        const atMin = await fetch(`${server.baseUrl}${path}`, {
          method: "POST",
          headers: headers(op),
          body: JSON.stringify({ ...body, expirationSeconds: min }),
        });
        expect(atMin.status).toBe(200);
      }
    }
  });
});
