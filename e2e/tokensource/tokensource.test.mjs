// @ts-check
// livekit-client's TokenSource.endpoint, unchanged, fetches credentials from the
// real lktoken binary, and the real livekit-server accepts them: the token
// validates, a participant joins over the signalling WebSocket with the
// minted name, metadata and attributes, and an allowed agent name becomes an
// agent dispatch in the room the participant created.
//
// Needs LKTOKEN_BIN and LIVEKIT_SERVER_BIN (see `make test-tokensource`), and
// Node's WebSocket (node --experimental-websocket on Node 20).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenSource } from 'livekit-client';

const API_KEY = 'APIe2etokensource';
const API_SECRET = randomBytes(32).toString('hex');
const AGENT = 'e2e-helper';
const STEP_TIMEOUT_MS = 60_000;

const lktokenBin = mustEnv('LKTOKEN_BIN');
const livekitBin = mustEnv('LIVEKIT_SERVER_BIN');

/** @param {string} name */
function mustEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through \`make test-tokensource\``);
  return v;
}

/** Tokens must never reach a log: livekit-server's 401 body echoes them. @param {string} s */
function redact(s) {
  return s.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, '[token]');
}

/** A free TCP port on loopback (released just before the server takes it). */
function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** A free UDP port on loopback, for livekit-server's single WebRTC port. */
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/**
 * @template T
 * @param {string} what
 * @param {() => Promise<T | undefined>} probe
 * @returns {Promise<T>}
 */
async function waitFor(what, probe, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** HS256 JWT with Node's crypto, for the admin token the RoomService API needs. @param {object} claims */
function signJWT(claims) {
  /** @param {object} o */
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', API_SECRET).update(unsigned).digest('base64url')}`;
}

/** @param {string} token */
function payload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/** @type {{dir: string, livekitURL: string, livekitHTTP: string, lktokenURL: string, procs: import('node:child_process').ChildProcess[], lkLog: string}} */
const env = { dir: '', livekitURL: '', livekitHTTP: '', lktokenURL: '', procs: [], lkLog: '' };

/**
 * Stops a child by PID: SIGTERM (twice for livekit-server, whose first one
 * drains), then SIGKILL if it is still there after a timeout.
 * @param {import('node:child_process').ChildProcess} p
 */
async function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const second = setTimeout(() => p.kill('SIGTERM'), 2_000);
  const kill = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(second);
  clearTimeout(kill);
}

before(async () => {
  env.dir = mkdtempSync(join(tmpdir(), 'lktoken-tokensource-'));
  const [lkPort, udpPort] = [await freeTcpPort(), await freeUdpPort()];
  env.livekitHTTP = `http://127.0.0.1:${lkPort}`;
  env.livekitURL = `ws://127.0.0.1:${lkPort}`;
  const config = join(env.dir, 'livekit.yaml');
  // Loopback only (see e2e/README.md); secrets in the config file, not argv.
  writeFileSync(
    config,
    [
      `port: ${lkPort}`,
      'bind_addresses: [127.0.0.1]',
      'keys:',
      `  ${API_KEY}: ${API_SECRET}`,
      'rtc:',
      `  udp_port: ${udpPort}`,
      '  tcp_port: 0',
      '  use_external_ip: false',
      '  node_ip: 127.0.0.1',
      '  enable_loopback_candidate: true',
      '  ips:',
      '    includes: [127.0.0.1/32]',
      '  stun_servers: [127.0.0.1:3478]',
      'logging:',
      '  level: info',
      '',
    ].join('\n'),
  );
  env.lkLog = join(env.dir, 'livekit.log');
  const lk = spawn(livekitBin, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  env.procs.push(lk);
  /** @type {string[]} */
  const lkOut = [];
  lk.stdout?.on('data', (b) => lkOut.push(String(b)));
  lk.stderr?.on('data', (b) => lkOut.push(String(b)));
  lk.once('exit', () => writeFileSync(env.lkLog, redact(lkOut.join(''))));
  await waitFor('livekit-server to answer on ' + env.livekitHTTP, async () => {
    if (lk.exitCode !== null) throw Object.assign(new Error('livekit-server exited'), { fatal: true });
    const r = await fetch(env.livekitHTTP + '/');
    return r.ok ? true : undefined;
  }).catch((e) => {
    throw new Error(`${e.message}\nlivekit-server output:\n${redact(lkOut.join('')).slice(-4000)}`);
  });

  // lktoken picks its own port (127.0.0.1:0) and says which in its first log line.
  const lt = spawn(lktokenBin, [], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      LIVEKIT_API_KEY: API_KEY,
      LIVEKIT_API_SECRET: API_SECRET,
      LIVEKIT_URL: env.livekitURL,
      LKTOKEN_LISTEN: '127.0.0.1:0',
      LKTOKEN_ALLOWED_ORIGINS: 'http://localhost:4200', // required outside --dev
      LKTOKEN_ALLOWED_AGENTS: AGENT,
    },
  });
  env.procs.push(lt);
  let ltErr = '';
  env.lktokenURL = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lktoken did not log "listening" within ${STEP_TIMEOUT_MS} ms:\n${redact(ltErr)}`)), STEP_TIMEOUT_MS);
    lt.once('exit', (code) => reject(new Error(`lktoken exited with ${code}:\n${redact(ltErr)}`)));
    lt.stderr?.on('data', (b) => {
      ltErr += String(b);
      for (const line of ltErr.split('\n')) {
        try {
          const m = JSON.parse(line);
          if (m.msg === 'listening') {
            clearTimeout(timer);
            resolve(`http://${m.addr}`);
          }
        } catch {
          // a partial line; wait for the rest
        }
      }
    });
  });
});

after(async () => {
  for (const p of env.procs.reverse()) await stop(p);
  if (process.exitCode && env.lkLog) {
    try {
      console.error('livekit-server log (tail):\n' + readFileSync(env.lkLog, 'utf8').slice(-4000));
    } catch {
      // no log written
    }
  }
  if (env.dir) rmSync(env.dir, { recursive: true, force: true });
});

/** GET /rtc/validate: 200 for a join token the server accepts. @param {string} token */
async function validate(token) {
  const r = await fetch(`${env.livekitHTTP}/rtc/validate?access_token=${encodeURIComponent(token)}`);
  return { status: r.status, body: redact(await r.text()) };
}

/** A RoomService / AgentDispatchService call (Twirp JSON) as room admin. @param {string} method @param {string} room */
async function twirp(method, room) {
  const now = Math.floor(Date.now() / 1000);
  const admin = signJWT({ iss: API_KEY, sub: 'e2e-admin', nbf: now, exp: now + 600, video: { roomAdmin: true, room } });
  const r = await fetch(`${env.livekitHTTP}/twirp/livekit.${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin}` },
    body: JSON.stringify({ room }),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${method}: ${redact(text)}`);
  return JSON.parse(text);
}

/**
 * Joins over the signalling WebSocket, as a client does before WebRTC: the
 * server creates the room (with the token's room configuration) and the
 * participant. Returns a function that leaves.
 * @param {string} token
 */
async function joinRoom(token) {
  const ws = new WebSocket(`${env.livekitURL}/rtc?access_token=${encodeURIComponent(token)}&protocol=16&sdk=js&auto_subscribe=1`);
  ws.binaryType = 'arraybuffer';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no signal message from livekit-server')), STEP_TIMEOUT_MS);
    ws.onmessage = () => {
      clearTimeout(timer);
      resolve(undefined);
    };
    ws.onerror = () => reject(new Error('signalling WebSocket failed'));
    ws.onclose = (e) => reject(new Error(`signalling WebSocket closed: ${e.code}`));
  });
  ws.onclose = null;
  return () => ws.close();
}

test('TokenSource.endpoint fetches a token the real livekit-server accepts', async () => {
  const source = TokenSource.endpoint(`${env.lktokenURL}/api/token`);
  const room = `ts-room-${randomBytes(4).toString('hex')}`;
  const creds = await source.fetch({
    roomName: room,
    participantIdentity: 'node-client',
    participantName: 'Node Client',
    participantMetadata: '{"role":"tester"}',
    participantAttributes: { team: 'blue' },
  });
  assert.equal(creds.serverUrl, env.livekitURL);
  const claims = payload(creds.participantToken);
  assert.equal(claims.iss, API_KEY);
  assert.equal(claims.sub, 'node-client');
  assert.deepEqual(claims.video, {
    roomJoin: true,
    room,
    canPublish: true,
    canSubscribe: true,
    canPublishData: false,
    canPublishSources: ['microphone'],
  });
  assert.equal(claims.roomConfig, undefined);

  assert.deepEqual(await validate(creds.participantToken), { status: 200, body: 'success' });
  // The check is real: a token with a broken signature is refused.
  const forged = creds.participantToken.slice(0, -4) + (creds.participantToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  assert.equal((await validate(forged)).status, 401);

  const leave = await joinRoom(creds.participantToken);
  try {
    const { participants } = await waitFor('the participant to be listed', async () => {
      const r = await twirp('RoomService/ListParticipants', room);
      return r.participants?.length ? r : undefined;
    });
    assert.equal(participants.length, 1);
    const p = participants[0];
    assert.equal(p.identity, 'node-client');
    assert.equal(p.name, 'Node Client');
    assert.equal(p.metadata, '{"role":"tester"}');
    assert.deepEqual(p.attributes, { team: 'blue' });
  } finally {
    leave();
  }
});

test('TokenSource.endpoint with no options gets a generated room and identity', async () => {
  const creds = await TokenSource.endpoint(`${env.lktokenURL}/api/token`).fetch({});
  const claims = payload(creds.participantToken);
  assert.match(claims.sub, /^identity-[0-9A-Za-z]{12}$/);
  assert.match(claims.video.room, /^room-[0-9A-Za-z]{12}$/);
  assert.deepEqual(await validate(creds.participantToken), { status: 200, body: 'success' });
});

test('an allowed agent name becomes an agent dispatch in the room', async () => {
  const room = `ts-agent-${randomBytes(4).toString('hex')}`;
  const creds = await TokenSource.endpoint(`${env.lktokenURL}/api/token`).fetch({
    roomName: room,
    participantIdentity: 'node-agent-caller',
    agentName: AGENT,
    agentMetadata: '{"lang":"en"}',
  });
  const claims = payload(creds.participantToken);
  assert.deepEqual(claims.roomConfig, { agents: [{ agentName: AGENT, metadata: '{"lang":"en"}' }] });
  assert.deepEqual(await validate(creds.participantToken), { status: 200, body: 'success' });

  // The participant creates the room; livekit-server dispatches from the token.
  const leave = await joinRoom(creds.participantToken);
  try {
    // Twirp answers in proto field names (snake_case).
    const dispatches = await waitFor('the agent dispatch to be listed', async () => {
      const r = await twirp('AgentDispatchService/ListDispatch', room);
      return r.agent_dispatches?.length ? r.agent_dispatches : undefined;
    });
    assert.equal(dispatches.length, 1, JSON.stringify(dispatches));
    assert.equal(dispatches[0].agent_name, AGENT);
    assert.equal(dispatches[0].metadata, '{"lang":"en"}');
    assert.equal(dispatches[0].room, room);
  } finally {
    leave();
  }
});

test('an agent outside the allowlist is refused with 403 and the reason', async () => {
  await assert.rejects(
    TokenSource.endpoint(`${env.lktokenURL}/api/token`).fetch({ agentName: 'not-allowed' }),
    (/** @type {Error} */ err) => {
      assert.match(err.message, /received 403 \//);
      assert.ok(
        err.message.includes(
          '{"code":"permission_denied","message":"room_config.agents[0].agent_name: agent \\"not-allowed\\" is not in the agent allowlist of this server"}',
        ),
        err.message,
      );
      return true;
    },
  );
});
