import { Agent } from 'node:https';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { MAX_BOOTSTRAP_BODY_BYTES } from '@global-iot/local/bootstrap-server.js';
import { auditSystem } from './support/audit.js';
import { type ReliabilityCloud, startAuditedCloud } from './support/cloud.js';
import { type DeviceEnvironment, runDevice } from './support/device.js';
import { call, type HttpAnswer, trickle } from './support/http.js';
import type { LogAudit } from './support/log-audit.js';
import { reliabilityScale } from './support/scale.js';

/**
 * Hostile input at the bootstrap endpoint, over real HTTPS: malformed JSON, wrong types, unicode
 * thing names (validly signed), huge bodies, bodies sent a byte at a time, replayed requests and
 * spoofed source-address headers. No request may crash anything (no 5xx, no error logged), none
 * may be allowed that should not be, and no log line may carry a secret.
 */

const scale = reliabilityScale();
const ERROR_STATUSES = [400, 401, 403, 405, 409, 413];
let audit: LogAudit;
let rc: ReliabilityCloud;
let env: DeviceEnvironment;
let agent: Agent;
let url: string;
let closeCloud: (() => Promise<void>) | undefined;

beforeAll(async () => {
  // Not in demo mode: the connection's address is the only source address there is.
  ({ audit, rc, env, close: closeCloud } = await startAuditedCloud({ demo: false }));
  agent = new Agent({ keepAlive: true, maxSockets: 8 });
  url = `${rc.cloud.bootstrapUrl ?? ''}/bootstrap`;
  await rc.enroll(['fuzz-target', 'replay-0', 'replay-1', 'replay-2', 'spoof-0', 'after-fuzz-0']);
});

afterAll(async () => {
  agent?.destroy();
  await closeCloud?.();
});

const post = (body: string | Buffer, headers: Record<string, string> = {}, extra: { method?: string; chunked?: boolean } = {}): Promise<HttpAnswer> =>
  call(url, { ca: rc.rootCa, agent, body, headers: { 'content-type': 'application/json', ...headers }, ...extra });

const signed = (thingName: string, timestamp = Date.now()) => signedBootstrapRequest(rc.fleetKey, thingName, timestamp);

/** An error answer in the bootstrap's own shape, never a 2xx or 5xx. */
function expectRefused(answer: HttpAnswer): void {
  expect(ERROR_STATUSES).toContain(answer.status);
  expect(answer.json).toMatchObject({ status: 'error', code: expect.any(String) });
}

describe('fuzzed bootstrap requests', () => {
  it('malformed JSON is refused with 400, never a crash', { timeout: 120_000 }, async () => {
    // Prepare
    const valid = JSON.stringify(signed('fuzz-target'));
    const malformed = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.integer({ min: 1, max: valid.length - 1 }).map((n) => valid.slice(0, n)),
      fc.constantFrom('\uFEFF' + valid, `${valid}${valid}`, '{"thing-name": NaN}', '{"timestamp": 1e400}', '[]'.repeat(2_000), `${'['.repeat(3_000)}${']'.repeat(3_000)}`, '{"a":1,}', "{'thing-name':'x'}"),
    );

    // Act
    const answers: HttpAnswer[] = [];
    await fc.assert(
      fc.asyncProperty(malformed, async (body) => {
        answers.push(await post(body));
      }),
      { numRuns: scale.fuzzRuns },
    );

    // Assess
    for (const answer of answers) expectRefused(answer);
  });

  it('wrong types in every field are refused, never a crash', { timeout: 120_000 }, async () => {
    // Prepare
    const body = fc.record(
      { 'thing-name': fc.anything(), 'thing-name-sig': fc.anything(), timestamp: fc.anything(), 'preferred-region': fc.anything(), CSR: fc.anything() },
      { requiredKeys: [] },
    );

    // Act
    const answers: HttpAnswer[] = [];
    await fc.assert(
      fc.asyncProperty(fc.oneof(body, fc.anything()), async (value) => {
        answers.push(await post(JSON.stringify(value) ?? 'undefined'));
      }),
      { numRuns: scale.fuzzRuns },
    );

    // Assess
    for (const answer of answers) expectRefused(answer);
  });

  it('unicode thing names, validly signed, are refused as invalid names', { timeout: 120_000 }, async () => {
    // Prepare
    const special = fc.constantFrom('sensor\u0000', 'sensor\n1', '\u202Esensor', 'séñsör', 'sensor-\u{1F600}', 'sensor\u200B', '../../etc/passwd', 'a'.repeat(129), ' ', 'sensor 1', '%73ensor', 'ＳＥＮＳＯＲ');
    const name = fc.oneof(special, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 130 }).filter((s) => !/^[a-zA-Z0-9:_-]{1,128}$/.test(s)));

    // Act
    const answers: HttpAnswer[] = [];
    await fc.assert(
      fc.asyncProperty(name, async (thingName) => {
        answers.push(await post(JSON.stringify(signed(thingName))));
      }),
      { numRuns: scale.fuzzRuns },
    );

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ code: 'INVALID_REQUEST' });
    }
  });

  it('other methods, content types and paths get no success and no 5xx', { timeout: 120_000 }, async () => {
    // Prepare
    const request = fc.record({
      method: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'POST'),
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ''),
      body: fc.oneof(fc.constant(JSON.stringify(signed('fuzz-target', 1))), fc.string({ maxLength: 200 })),
      path: fc.constantFrom('/bootstrap', '/', '/bootstrap?thing-name=fuzz-target', '/%2e%2e/admin', '/bootstrap/../x'),
    });

    // Act
    const answers: HttpAnswer[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        answers.push(
          await call(`${rc.cloud.bootstrapUrl ?? ''}${r.path}`, {
            ca: rc.rootCa,
            agent,
            method: r.method,
            body: r.body,
            headers: r.contentType ? { 'content-type': r.contentType } : {},
          }),
        );
      }),
      { numRuns: scale.fuzzRuns },
    );

    // Assess
    for (const answer of answers) expectRefused(answer);
    const record = await rc.registry.get('fuzz-target');
    expect(record?.prov_status).toBe('unprovisioned');
  });
});

describe('huge bodies', () => {
  it('are refused with 413 whether announced, chunked or binary, and the server carries on', { timeout: 60_000 }, async () => {
    // Prepare
    const over = Buffer.alloc(MAX_BOOTSTRAP_BODY_BYTES + 1, 0x20);
    const tenMiB = Buffer.alloc(10 * 2 ** 20, 0x41);
    const paddedValid = JSON.stringify({ ...signed('fuzz-target'), CSR: 'x'.repeat(MAX_BOOTSTRAP_BODY_BYTES) });

    // Act
    const answers = [
      await post(over),
      await post(paddedValid),
      await post(tenMiB, {}, { chunked: true }),
      await post(tenMiB, { 'content-type': 'application/octet-stream' }),
      // Announced as huge, but only a little sent: refused on the announcement alone.
      await call(url, { ca: rc.rootCa, body: '{}', headers: { 'content-type': 'application/json', 'content-length': 2 }, method: 'POST' }),
    ];
    const declaredOnly = await call(url, { ca: rc.rootCa, headers: { 'content-type': 'application/json', 'content-length': 1e9 }, body: '{', method: 'POST', timeoutMs: 5_000 }).catch((error: unknown) => error);
    const afterwards = await runDevice(env, { thingName: 'after-fuzz-0', certificateMode: 'keys' });

    // Assess
    expect(answers.slice(0, 4).map((a) => a.status)).toEqual([413, 413, 413, 413]);
    for (const answer of answers.slice(0, 4)) expect(answer.json).toMatchObject({ status: 'error', code: 'PAYLOAD_TOO_LARGE' });
    expect(answers[4]?.status).toBe(400);
    expect(declaredOnly).toMatchObject({ status: 413 });
    expect(afterwards.ok).toBe(true);
  });
});

describe('a body sent one byte at a time', () => {
  it('is cut off by the server, while other devices are answered meanwhile', { timeout: 60_000 }, async () => {
    // Prepare
    const bootstrap = new URL(rc.cloud.bootstrapUrl ?? '');
    const body = JSON.stringify(signed('fuzz-target'));
    const target = { host: '127.0.0.1', port: Number(bootstrap.port), servername: bootstrap.hostname, ca: rc.rootCa };
    const head = `POST /bootstrap HTTP/1.1\r\nHost: ${bootstrap.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;

    // Act
    const slowBody = trickle(target, head + body, { intervalMs: 200, giveUpMs: 40_000 });
    const slowHeaders = trickle(target, head, { intervalMs: 200, giveUpMs: 40_000 });
    const meanwhile = await Promise.all([1, 2, 3].map(async () => (await post(JSON.stringify(signed('spoof-0')))).status));
    const [bodyOutcome, headerOutcome] = await Promise.all([slowBody, slowHeaders]);
    const record = await rc.registry.get('fuzz-target');

    // Assess
    expect(meanwhile).toContain(200);
    expect(bodyOutcome.bytesSent).toBeLessThan(head.length + body.length);
    expect(headerOutcome.bytesSent).toBeLessThan(head.length);
    expect(bodyOutcome.statusLine ?? 'closed').toMatch(/^(HTTP\/1\.1 408|closed)/);
    expect(record?.prov_status).toBe('unprovisioned');
  });
});

describe('replayed bootstrap requests', () => {
  it('are refused: the same request again, many copies at once, and after the device is provisioned', { timeout: 60_000 }, async () => {
    // Prepare
    const captured = JSON.stringify(signed('replay-0'));
    const burst = JSON.stringify(signed('replay-1'));
    const stale = JSON.stringify(signed('replay-2', Date.now() - 10 * 60_000));
    const future = JSON.stringify(signed('replay-2', Date.now() + 10 * 60_000));
    const { timestamp: _dropped, ...legacy } = signed('replay-2');
    const renamed = JSON.stringify({ ...signed('replay-0'), 'thing-name': 'replay-2' });

    // Act
    const first = await post(captured);
    const again = await post(captured);
    const copies = await Promise.all(Array.from({ length: 10 }, () => post(burst)));
    const refusals = [await post(stale), await post(future), await post(JSON.stringify(legacy)), await post(renamed)];
    const device = await runDevice(env, { thingName: 'replay-0', certificateMode: 'csr' });
    const afterProvisioning = await post(JSON.stringify(signed('replay-0')));
    const replayedAfter = await post(captured);

    // Assess
    expect(first.status).toBe(200);
    expect(again.json).toMatchObject({ code: 'REPLAYED_REQUEST' });
    expect(copies.filter((c) => c.status === 200)).toHaveLength(1);
    for (const copy of copies.filter((c) => c.status !== 200)) expect(['REPLAYED_REQUEST', 'CONFLICT']).toContain((copy.json as { code: string }).code);
    expect(refusals.map((r) => (r.json as { code: string }).code)).toEqual(['REQUEST_EXPIRED', 'REQUEST_EXPIRED', 'LEGACY_SIGNATURE_REFUSED', 'UNAUTHORIZED']);
    expect(device.ok).toBe(true);
    expect(afterProvisioning.json).toMatchObject({ code: 'ALREADY_PROVISIONED' });
    expect(replayedAfter.status).toBe(409);
    expect(replayedAfter.text).not.toContain('ticket"');
  });
});

describe('spoofed source-address headers', () => {
  it('change neither the address the registry records nor the region', { timeout: 60_000 }, async () => {
    // Prepare: every header a proxy or CDN might set, naming Frankfurt; the connection is loopback.
    const spoofed = {
      'x-forwarded-for': '194.25.0.10, 194.25.0.11',
      'x-real-ip': '194.25.0.10',
      forwarded: 'for=194.25.0.10;proto=https',
      'true-client-ip': '194.25.0.10',
      'cloudfront-viewer-address': '194.25.0.10:4711',
      'cloudfront-viewer-latitude': '50.11',
      'cloudfront-viewer-longitude': '8.68',
      'cloudfront-viewer-country': 'DE',
      'x-demo-source-ip': '194.25.0.10',
    };

    // Act
    const answer = await post(JSON.stringify(signed('spoof-0')), spoofed);
    const record = await rc.registry.get('spoof-0');

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ region: rc.homeRegion, distance: null });
    expect(record?.source_ip).toBe('127.0.0.1');
    expect(record?.country).toBeUndefined();
  });
});

describe('after all of it', () => {
  it('nothing crashed, nothing was half-provisioned, and no log line holds a secret', async () => {
    // Prepare
    const lines = audit.lineCount();

    // Act
    const state = await auditSystem(rc);

    // Assess
    expect(lines).toBeGreaterThan(scale.fuzzRuns);
    expect(audit.errorLines()).toEqual([]);
    expect(state.problems).toEqual([]);
    expect(state.orphanActiveCertificates).toBe(0);
    expect(audit.violations()).toEqual([]);
  });
});
