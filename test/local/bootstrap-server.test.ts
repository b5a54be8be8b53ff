import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootstrapServer, type HttpApiHandler, startBootstrapServer } from '@global-iot/local/bootstrap-server.js';
import { silentLogger } from '@global-iot/local/log.js';
import { type LocalPki, loadOrCreatePki } from '@global-iot/local/pki.js';
import { within } from './support/cloud.js';

/** The local stand-in for API Gateway's HTTP API in front of the bootstrap Lambda. */

const pkiDir = mkdtempSync(join(tmpdir(), 'bootstrap-server-'));
let pki: LocalPki;
const events: APIGatewayProxyEventV2[] = [];
let answer: (event: APIGatewayProxyEventV2) => unknown = () => ({ statusCode: 200, body: '{}' });
const handler: HttpApiHandler = async (event) => {
  events.push(event);
  return answer(event);
};
let plain: BootstrapServer;
let demo: BootstrapServer;

async function server(demoMode: boolean): Promise<BootstrapServer> {
  return startBootstrapServer({
    handler,
    tls: { key: pki.server.privateKeyPem, cert: pki.server.certificatePem },
    hostName: 'localhost',
    demo: demoMode,
    accountId: '123456789012',
    now: () => Date.parse('2026-11-28T12:34:56Z'),
    log: silentLogger,
  });
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(target: BootstrapServer, options: { path?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean }): Promise<Reply> {
  const url = new URL(options.path ?? '/', target.url);
  return within(
    new Promise<Reply>((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', ca: pki.rootCa.certificatePem, headers: options.headers ?? {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The server may close while a large body is still being written; the answer came first.
        if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
      });
      if (options.chunked && options.body) {
        const body = Buffer.from(options.body);
        for (let i = 0; i < body.length; i += 1024) req.write(body.subarray(i, i + 1024));
        req.end();
      } else {
        req.end(options.body);
      }
    }),
    8_000,
    'the bootstrap server',
  );
}

beforeAll(async () => {
  pki = await loadOrCreatePki({ dir: pkiDir, regions: [], serverNames: [], serverAddresses: [] });
  plain = await server(false);
  demo = await server(true);
});

afterAll(async () => {
  await plain?.close();
  await demo?.close();
  rmSync(pkiDir, { recursive: true, force: true });
});

describe('the HTTP API event', () => {
  it('is what API Gateway sends: format 2.0, lower-case headers, the peer address as sourceIp', async () => {
    // Prepare
    events.length = 0;
    answer = () => ({ statusCode: 200, body: '{}' });

    // Act
    await send(plain, {
      path: '/bootstrap?a=1&a=2&b=x',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.9', 'User-Agent': 'device/1.0' },
      body: '{"thing-name":"sensor-1"}',
    });

    // Assess
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/bootstrap',
      rawQueryString: 'a=1&a=2&b=x',
      queryStringParameters: { a: '1,2', b: 'x' },
      body: '{"thing-name":"sensor-1"}',
      isBase64Encoded: false,
      requestContext: {
        accountId: '123456789012',
        domainName: 'localhost',
        stage: '$default',
        routeKey: '$default',
        time: '28/Nov/2026:12:34:56 +0000',
        timeEpoch: Date.parse('2026-11-28T12:34:56Z'),
        http: { method: 'POST', path: '/bootstrap', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'device/1.0' },
      },
    });
    expect(event?.headers).toMatchObject({ 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9', 'user-agent': 'device/1.0' });
    expect(event?.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carries a binary body base64-encoded', async () => {
    // Prepare
    events.length = 0;

    // Act
    await send(plain, { headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2, 255]) });

    // Assess
    expect(events[0]).toMatchObject({ body: 'AAEC/w==', isBase64Encoded: true });
  });
});

describe('responses', () => {
  it("follow the handler's structured result", async () => {
    // Prepare
    answer = () => ({ statusCode: 429, headers: { 'retry-after': '5', 'content-type': 'application/json' }, body: '{"status":"error"}' });

    // Act
    const reply = await send(plain, { body: '{}' });

    // Assess
    expect(reply).toMatchObject({ status: 429, body: '{"status":"error"}', headers: { 'retry-after': '5' } });
  });

  it('are a 500 without details when the handler throws', async () => {
    // Prepare
    answer = () => {
      throw new Error('secret detail');
    };

    // Act
    const reply = await send(plain, { body: '{}' });

    // Assess
    expect(reply.status).toBe(500);
    expect(reply.body).toBe('{"message":"Internal Server Error"}');
  });

  it.each([
    ['declared too large', false],
    ['sent in chunks without a length', true],
  ])('refuse a body over 8 KiB %s with 413, without calling the handler', async (_label, chunked) => {
    // Prepare
    events.length = 0;

    // Act
    const reply = await send(plain, { body: 'x'.repeat(8 * 1024 + 1), chunked });

    // Assess
    expect(reply.status).toBe(413);
    expect(events).toHaveLength(0);
  });
});

describe('x-demo-source-ip', () => {
  it('is an ordinary header outside demo mode', async () => {
    // Prepare
    events.length = 0;
    answer = () => ({ statusCode: 200, body: '{}' });

    // Act
    await send(plain, { headers: { 'x-demo-source-ip': '203.0.113.7' }, body: '{}' });

    // Assess
    expect(events[0]?.requestContext.http.sourceIp).toBe('127.0.0.1');
  });

  it('sets sourceIp in demo mode, and the function never sees the header', async () => {
    // Prepare
    events.length = 0;

    // Act
    await send(demo, { headers: { 'x-demo-source-ip': '203.0.113.7' }, body: '{}' });

    // Assess
    expect(events[0]?.requestContext.http.sourceIp).toBe('203.0.113.7');
    expect(events[0]?.headers['x-demo-source-ip']).toBeUndefined();
  });

  it('must be an IP address', async () => {
    // Act
    const reply = await send(demo, { headers: { 'x-demo-source-ip': 'not-an-ip' }, body: '{}' });

    // Assess
    expect(reply.status).toBe(400);
  });
});
