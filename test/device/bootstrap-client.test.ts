import { Agent, createServer, type Server } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type BootstrapClientDeps,
  type BootstrapClientOptions,
  type BootstrapRequestBody,
  parseRetryAfter,
  requestBootstrap,
  validateBootstrapUrl,
} from '@global-iot/device/bootstrap-client.js';
import {
  BootstrapRejected,
  BootstrapUnavailable,
  BootstrapUntrusted,
  DeviceConfigError,
  InvalidBootstrapAnswer,
} from '@global-iot/device/errors.js';
import { selfSignedServerCert } from '../helpers/tls.js';

interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Never answer (the client's time-out must fire). */
  hang?: boolean;
  /** Answer only after this long. */
  delayMs?: number;
}

const ANSWER = {
  status: 'success',
  endpointAddress: 'abc123-ats.iot.eu-central-1.amazonaws.com',
  region: 'eu-central-1',
  distance: 152.4,
  templateName: 'GlobalFleetProvisioning',
  ticket: 't1.payload.signature',
  ticketExpiresAt: '2026-11-28T12:15:00.000Z',
  fallbacks: [{ region: 'eu-west-1', endpointAddress: 'abc123-ats.iot.eu-west-1.amazonaws.com:8883' }],
};

const tls = selfSignedServerCert();
let server: Server;
let url: URL;
let replies: Reply[] = [];
const received: { body: unknown; headers: Record<string, string | string[] | undefined> }[] = [];

beforeAll(async () => {
  server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown, headers: req.headers });
      const reply = replies.shift() ?? { status: 500 };
      if (reply.hang) return;
      setTimeout(() => {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/bootstrap`);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function options(overrides: Partial<BootstrapClientOptions> = {}): BootstrapClientOptions {
  return {
    url,
    ca: tls.cert.toString(),
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 2_000,
    maxAttempts: 4,
    baseBackoffMs: 100,
    maxBackoffMs: 1_000,
    maxRetryAfterMs: 10_000,
    maxQueueMs: 10_000,
    ...overrides,
  };
}

/** Records the waits instead of waiting: the back-off policy is checked, not the clock. */
function fakeDeps(random = 0.5): BootstrapClientDeps & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => random,
    now: () => Date.parse('2026-11-28T12:00:00Z'),
  };
}

function bodyMaker(): { make: () => BootstrapRequestBody; calls: () => number } {
  let calls = 0;
  return {
    make: () => {
      calls += 1;
      return { 'thing-name': 'sensor-1', 'thing-name-sig': 'c2ln', timestamp: 1_000 + calls };
    },
    calls: () => calls,
  };
}

function reset(next: Reply[]): void {
  replies = next;
  received.length = 0;
}

describe('requestBootstrap', () => {
  it('waits for a slow answer up to the request time-out, however short the connect time-out', async () => {
    // Prepare: connected at once, answered after 600 ms.
    reset([{ status: 200, body: JSON.stringify(ANSWER), delayMs: 600 }]);
    const body = bodyMaker();

    // Act
    const answer = await requestBootstrap(body.make, options({ connectTimeoutMs: 200, requestTimeoutMs: 2_000 }), fakeDeps());

    // Assess
    expect(answer.region).toBe('eu-central-1');
    expect(body.calls()).toBe(1);
  });


  it('returns the validated answer and sends the body and extra headers', async () => {
    // Prepare
    reset([{ status: 200, body: JSON.stringify({ ...ANSWER, extra: 'ignored' }) }]);
    const body = bodyMaker();

    // Act
    const answer = await requestBootstrap(body.make, options({ headers: { 'x-demo-source-ip': '81.2.69.160' } }), fakeDeps());

    // Assess
    expect(answer).toEqual(ANSWER);
    expect(received[0]?.body).toEqual({ 'thing-name': 'sensor-1', 'thing-name-sig': 'c2ln', timestamp: 1_001 });
    expect(received[0]?.headers['x-demo-source-ip']).toBe('81.2.69.160');
    expect(received[0]?.headers['content-type']).toBe('application/json');
  });

  it('retries a 503 no sooner than Retry-After, with a fresh body each attempt', async () => {
    // Prepare
    reset([
      { status: 503, body: JSON.stringify({ status: 'error', code: 'SERVICE_UNAVAILABLE', message: 'later' }), headers: { 'retry-after': '3' } },
      { status: 200, body: JSON.stringify(ANSWER) },
    ]);
    const body = bodyMaker();
    const deps = fakeDeps(0.5);

    // Act
    await requestBootstrap(body.make, options(), deps);

    // Assess
    expect(deps.delays).toEqual([3_000]);
    expect(body.calls()).toBe(2);
    expect(received.map((r) => (r.body as BootstrapRequestBody).timestamp)).toEqual([1_001, 1_002]);
  });

  it('backs off exponentially with full jitter on 429 and 5xx without Retry-After', async () => {
    // Prepare
    reset([{ status: 429 }, { status: 500 }, { status: 502 }, { status: 200, body: JSON.stringify(ANSWER) }]);
    const deps = fakeDeps(0.5);

    // Act
    await requestBootstrap(bodyMaker().make, options(), deps);

    // Assess: half of 100, 200, 400 ms.
    expect(deps.delays).toEqual([50, 100, 200]);
  });

  it('caps the back-off ceiling at maxBackoffMs', async () => {
    // Prepare
    reset([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 200, body: JSON.stringify(ANSWER) }]);
    const deps = fakeDeps(0.999);

    // Act
    await requestBootstrap(bodyMaker().make, options({ baseBackoffMs: 400, maxBackoffMs: 500 }), deps);

    // Assess
    expect(deps.delays).toEqual([399, 499, 499]);
  });

  it.each([
    [400, 'INVALID_REQUEST'],
    [401, 'UNAUTHORIZED'],
    [403, 'DEVICE_BLOCKED'],
    [409, 'ALREADY_PROVISIONED'],
  ])('stops at once on %i and reports the service code', async (status, code) => {
    // Prepare
    reset([{ status, body: JSON.stringify({ status: 'error', code, message: 'no' }) }]);
    const body = bodyMaker();

    // Act
    const error = await requestBootstrap(body.make, options(), fakeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(BootstrapRejected);
    expect(error).toMatchObject({ status, code, message: expect.stringContaining(`${status} ${code}: no`) });
    expect(body.calls()).toBe(1);
  });

  it('names the HTTP status when a 4xx carries no error body', async () => {
    // Prepare
    reset([{ status: 404, body: 'not here' }]);

    // Act
    const error = await requestBootstrap(bodyMaker().make, options(), fakeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'BootstrapRejected', status: 404, code: 'HTTP_404' });
  });

  it('gives up after maxAttempts with the last status', async () => {
    // Prepare
    reset([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    const deps = fakeDeps();

    // Act
    const error = await requestBootstrap(bodyMaker().make, options(), deps).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(BootstrapUnavailable);
    expect(error).toMatchObject({ attempts: 4, lastStatus: 503 });
    expect(deps.delays).toHaveLength(3);
  });

  it('waits in line on a 429 with Retry-After without using an attempt', async () => {
    // Prepare: five places in line, then the answer; two attempts would not reach it otherwise.
    const busy = { status: 429, body: JSON.stringify({ status: 'error', code: 'REGION_BUSY', message: 'full' }), headers: { 'retry-after': '2' } };
    reset([busy, busy, busy, busy, busy, { status: 200, body: JSON.stringify(ANSWER) }]);
    const deps = fakeDeps();

    // Act
    const answer = await requestBootstrap(bodyMaker().make, options({ maxAttempts: 2 }), deps);

    // Assess: each wait is the Retry-After itself, no jitter added.
    expect(answer.region).toBe('eu-central-1');
    expect(deps.delays).toEqual([2_000, 2_000, 2_000, 2_000, 2_000]);
  });

  it('counts places in line as attempts once their waits pass maxQueueMs', async () => {
    // Prepare: 2 s in line fit a 3 s allowance; the next 2 s do not.
    const busy = { status: 429, headers: { 'retry-after': '2' } };
    reset([busy, busy, busy, busy]);
    const deps = fakeDeps();

    // Act
    const error = await requestBootstrap(bodyMaker().make, options({ maxAttempts: 2, maxQueueMs: 3_000 }), deps).catch((e: unknown) => e);

    // Assess: one wait in line, one counted failure, then the second failure ends it.
    expect(error).toBeInstanceOf(BootstrapUnavailable);
    expect(error).toMatchObject({ attempts: 3, lastStatus: 429 });
    expect((error as Error).message).toContain('(3 requests, 2 s in line)');
    expect(deps.delays).toEqual([2_000, 2_000]);
    expect(received).toHaveLength(3);
  });

  it('counts a 429 whose Retry-After is 0 as an attempt: a server cannot keep the device asking', async () => {
    // Prepare
    reset([
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 429, headers: { 'retry-after': '0' } },
    ]);
    const deps = fakeDeps();

    // Act
    const error = await requestBootstrap(bodyMaker().make, options(), deps).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'BootstrapUnavailable', attempts: 4, lastStatus: 429 });
    expect(received).toHaveLength(4);
  });

  it('gives up instead of waiting longer than maxRetryAfterMs', async () => {
    // Prepare
    reset([{ status: 503, headers: { 'retry-after': '3600' } }]);
    const deps = fakeDeps();

    // Act
    const error = await requestBootstrap(bodyMaker().make, options(), deps).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(BootstrapUnavailable);
    expect((error as Error).message).toContain('retry after 3600 s');
    expect(deps.delays).toEqual([]);
  });

  it.each([
    ['not JSON', 'not json'],
    ['missing ticket', JSON.stringify({ ...ANSWER, ticket: undefined })],
    ['bad region', JSON.stringify({ ...ANSWER, region: 'Europe' })],
    ['bad endpoint', JSON.stringify({ ...ANSWER, endpointAddress: 'https://x/' })],
    ['an error status', JSON.stringify({ status: 'error', code: 'X', message: 'y' })],
    ['a RegisterThing time that is not a whole number', JSON.stringify({ ...ANSWER, registerAt: '1700000000000' })],
    ['a negative service time', JSON.stringify({ ...ANSWER, registerAt: 1, serverTime: -5 })],
  ])('refuses a 200 with %s', async (_label, body) => {
    // Prepare
    reset([{ status: 200, body }]);

    // Act
    const error = await requestBootstrap(bodyMaker().make, options(), fakeDeps()).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidBootstrapAnswer);
  });

  it('retries an attempt that gets no answer in time', async () => {
    // Prepare
    reset([{ status: 0, hang: true }, { status: 200, body: JSON.stringify(ANSWER) }]);
    const deps = fakeDeps();

    // Act
    const answer = await requestBootstrap(bodyMaker().make, options({ requestTimeoutMs: 300 }), deps);

    // Assess
    expect(answer.region).toBe('eu-central-1');
    expect(deps.delays).toHaveLength(1);
  });

  it('retries a refused connection and reports the network error', async () => {
    // Prepare: a port nobody listens on.
    const closed = new URL('https://127.0.0.1:1/bootstrap');
    const deps = fakeDeps();

    // Act
    const error = await requestBootstrap(bodyMaker().make, options({ url: closed, maxAttempts: 2 }), deps).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(BootstrapUnavailable);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(deps.delays).toHaveLength(1);
  });

  it('builds the trust store from the CA bundle once, not on every connection', async () => {
    // Prepare: Node's TLS makes a context on each connection that brings none, through the
    // CommonJS export this spies on; three requests on fresh connections must bring theirs.
    const tlsModule = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
    const madeByNode = vi.spyOn(tlsModule, 'createSecureContext');
    reset([200, 200, 200].map((status) => ({ status, body: JSON.stringify(ANSWER) })));
    const fresh = new Agent({ keepAlive: false });

    // Act
    let contextsMadeByNode: number;
    try {
      for (let i = 0; i < 3; i++) await requestBootstrap(bodyMaker().make, options({ agent: fresh }), fakeDeps());
      contextsMadeByNode = madeByNode.mock.calls.length;
    } finally {
      madeByNode.mockRestore();
      fresh.destroy();
    }

    // Assess
    expect(received).toHaveLength(3);
    expect(contextsMadeByNode).toBe(0);
  });

  it('stops at once when the server certificate is not trusted', async () => {
    // Prepare: no CA given, so the self-signed certificate cannot verify.
    reset([{ status: 200, body: JSON.stringify(ANSWER) }]);
    const { ca: _ca, ...untrusting } = options();
    const deps = fakeDeps();

    // Act
    const error = await requestBootstrap(bodyMaker().make, untrusting, deps).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(BootstrapUntrusted);
    expect(deps.delays).toEqual([]);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');

  it.each([
    ['120', 120_000],
    ['Sat, 28 Nov 2026 12:00:30 GMT', 30_000],
    ['Sat, 28 Nov 2026 11:00:00 GMT', 0],
  ])('reads %s', (value, expected) => {
    // Act
    const ms = parseRetryAfter(value, now);

    // Assess
    expect(ms).toBe(expected);
  });

  it.each([undefined, 'soon', '-5', '1.5'])('ignores %s', (value) => {
    // Act
    const ms = parseRetryAfter(value, now);

    // Assess
    expect(ms).toBeUndefined();
  });
});

describe('validateBootstrapUrl', () => {
  it('accepts an https URL', () => {
    // Act
    const parsed = validateBootstrapUrl('https://bootstrap.example.com/prod/bootstrap');

    // Assess
    expect(parsed.host).toBe('bootstrap.example.com');
  });

  it.each(['http://bootstrap.example.com/', 'not a url', 'https://user:pw@bootstrap.example.com/'])('refuses %s', (text) => {
    // Act
    const act = () => validateBootstrapUrl(text);

    // Assess
    expect(act).toThrow(DeviceConfigError);
  });
});
