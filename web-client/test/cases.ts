// One table of requests and the field errors the contract gives them, used
// against the client-side validator and against the real server alike.
import type { GenerateTokenRequestSchema } from "../src/index.js";
import type { FieldErrors } from "../src/index.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

export interface Case {
  name: string;
  request: MessageInitShape<typeof GenerateTokenRequestSchema>;
  /** {} for a request the contract accepts. */
  errors: FieldErrors;
}

const REQUIRED = "value is required";
const BLANK = "must not be only whitespace";
const CONTROL = "must not contain control or bidirectional-override characters";
const HASH = "must not contain '#' (LiveKit reserves it in identities)";
const TOO_LONG = "must be at most 256 bytes";
const LIFETIME = "must be greater than or equal to 60 and less than or equal to 86400";

/** 128 two-byte characters: 256 bytes of UTF-8, the longest name allowed. */
const E256 = "é".repeat(128);

export const cases: Case[] = [
  { name: "minimal", request: { roomName: "standup", participantIdentity: "user-42" }, errors: {} },
  {
    name: "every field at its bounds",
    request: { roomName: E256, participantIdentity: E256, participantName: E256, expirationSeconds: 86400 },
    errors: {},
  },
  {
    name: "punctuation and other scripts, '#' in a room",
    request: { roomName: "café ☕ #1 / 会议", participantIdentity: "ада@example.com", participantName: "Ada Lovelace", expirationSeconds: 60 },
    errors: {},
  },
  { name: "room empty", request: { roomName: "", participantIdentity: "u" }, errors: { roomName: REQUIRED } },
  // An empty participantIdentity: the contract leaves it to the server. One
  // without OpenID Connect (this table's server, and the validator's default)
  // refuses it with "value is required"; one that verifies its callers fills
  // it in (validateTokenRequest(req, { identityFromToken: true }), see
  // validation.test.ts).
  { name: "identity empty", request: { roomName: "r", participantIdentity: "" }, errors: { participantIdentity: REQUIRED } },
  { name: "identity left out", request: { roomName: "r" }, errors: { participantIdentity: REQUIRED } },
  { name: "both required fields empty", request: { roomName: "", participantIdentity: "" }, errors: { roomName: REQUIRED, participantIdentity: REQUIRED } },
  {
    name: "identity empty, every other field wrong",
    request: { roomName: " ", participantIdentity: "", participantName: "\u202e", expirationSeconds: 0 },
    errors: { roomName: BLANK, participantIdentity: REQUIRED, participantName: CONTROL, expirationSeconds: LIFETIME },
  },
  { name: "blank room (spaces)", request: { roomName: "   ", participantIdentity: "u" }, errors: { roomName: BLANK } },
  {
    name: "a tab is blank and a control character",
    request: { roomName: " \t ", participantIdentity: "u" },
    errors: { roomName: `${BLANK}; ${CONTROL}` },
  },
  {
    name: "blank identity (no-break and ideographic spaces)",
    request: { roomName: "r", participantIdentity: "\u00a0\u3000" },
    errors: { participantIdentity: BLANK },
  },
  { name: "blank display name", request: { roomName: "r", participantIdentity: "u", participantName: " " }, errors: { participantName: BLANK } },
  { name: "empty display name", request: { roomName: "r", participantIdentity: "u", participantName: "" }, errors: { participantName: "must be at least 1 bytes" } },
  { name: "BEL in a room", request: { roomName: "stand\u0007up", participantIdentity: "u" }, errors: { roomName: CONTROL } },
  { name: "newline in a display name", request: { roomName: "r", participantIdentity: "u", participantName: "Ada\nLovelace" }, errors: { participantName: CONTROL } },
  { name: "DEL in an identity", request: { roomName: "r", participantIdentity: "u\u007f" }, errors: { participantIdentity: CONTROL } },
  { name: "bidi override U+202E in a room", request: { roomName: "\u202egnp.exe", participantIdentity: "u" }, errors: { roomName: CONTROL } },
  { name: "bidi isolate U+2066 in a display name", request: { roomName: "r", participantIdentity: "u", participantName: "a\u2066b" }, errors: { participantName: CONTROL } },
  { name: "'#' in an identity", request: { roomName: "r", participantIdentity: "user#1" }, errors: { participantIdentity: HASH } },
  {
    name: "'#' and a bidi override in one identity",
    request: { roomName: "r", participantIdentity: "a#b\u202e" },
    errors: { participantIdentity: `${HASH}; ${CONTROL}` },
  },
  { name: "room of 257 bytes (129 characters)", request: { roomName: `${E256}x`, participantIdentity: "u" }, errors: { roomName: TOO_LONG } },
  { name: "identity of 257 bytes", request: { roomName: "r", participantIdentity: `x${E256}` }, errors: { participantIdentity: TOO_LONG } },
  { name: "display name of 257 bytes", request: { roomName: "r", participantIdentity: "u", participantName: `${E256}x` }, errors: { participantName: TOO_LONG } },
  { name: "lifetime 59 s", request: { roomName: "r", participantIdentity: "u", expirationSeconds: 59 }, errors: { expirationSeconds: LIFETIME } },
  { name: "lifetime 86401 s", request: { roomName: "r", participantIdentity: "u", expirationSeconds: 86401 }, errors: { expirationSeconds: LIFETIME } },
  // Map keys: the message names the key as the server quotes it (Go's
  // strconv.Quote). One bad key per case: the server visits a map's keys in
  // random order.
  {
    name: "spoofing attribute key",
    request: { roomName: "r", participantIdentity: "u", participantAttributes: { "\u202eteam\t": "y", "é\u00a0": "z" } },
    errors: { participantAttributes: CONTROL },
  },
  {
    name: "reserved attribute key",
    request: { roomName: "r", participantIdentity: "u", participantAttributes: { "lk.agent.state": "x", ok: "" } },
    errors: { participantAttributes: "must not start with 'lk.' (LiveKit reserves that prefix)" },
  },
  // Agent dispatch: the contract bounds the name; the allowlist is the server's.
  {
    name: "agent name with a control character",
    request: { roomName: "r", participantIdentity: "u", roomConfig: { agents: [{ agentName: "help\ner" }] } },
    errors: { roomConfig: CONTROL },
  },
  {
    name: "second agent's name of 257 bytes",
    request: { roomName: "r", participantIdentity: "u", roomConfig: { agents: [{ agentName: "ok" }, { agentName: `x${E256}` }] } },
    errors: { roomConfig: TOO_LONG },
  },
  {
    name: "every field wrong at once",
    request: { roomName: " ", participantIdentity: "a#b", participantName: "\u202e", expirationSeconds: 0 },
    errors: { roomName: BLANK, participantIdentity: HASH, participantName: CONTROL, expirationSeconds: LIFETIME },
  },
];
