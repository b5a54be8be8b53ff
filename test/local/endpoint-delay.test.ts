import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsHandshakeProbe } from '@global-iot/device/handshake-probe.js';
import { startLocalCloud } from '@global-iot/local/cloud.js';
import { delayedEndpoint, EndpointDelayRefused, regionDelayProblems } from '@global-iot/local/iot/endpoint-delay.js';
import { createLogger } from '@global-iot/local/log.js';
import { selfSignedServerCert } from '../helpers/tls.js';

/** A region endpoint's delay: every handshake waits it out, on loopback addresses only. */

let tls: { key: string; cert: string; ca: string };
let server: Server;

beforeAll(() => {
  const made = selfSignedServerCert();
  // The server's own certificate serves as the roots and as the client's certificate too.
  tls = { key: made.key.toString(), cert: made.cert.toString(), ca: made.cert.toString() };
  server = createServer({ key: tls.key, cert: tls.cert }, (socket) => socket.end());
});
afterAll(() => {
  server.close();
});

describe('delayedEndpoint', () => {
  it('makes every TLS handshake take at least the delay', async () => {
    // Prepare
    const delayed = delayedEndpoint(server, 120);
    const { port } = await delayed.listen(0, '127.0.0.1');
    const probe = tlsHandshakeProbe({ claim: { certificatePem: tls.cert, privateKeyPem: tls.key }, caPem: tls.ca });

    // Act
    let times: number[];
    try {
      times = [await probe({ region: 'eu-central-1', host: '127.0.0.1', port }, 2_000), await probe({ region: 'eu-central-1', host: '127.0.0.1', port }, 2_000)];
    } finally {
      await delayed.close();
    }

    // Assess
    for (const ms of times) expect(ms).toBeGreaterThanOrEqual(120);
  });

  it('refuses to listen on an address that is not loopback', async () => {
    // Prepare
    const delayed = delayedEndpoint(server, 10);

    // Act
    const error = await delayed.listen(0, '0.0.0.0').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(EndpointDelayRefused);
  });

  it('closes with connections still waiting, dropping them', async () => {
    // Prepare
    const delayed = delayedEndpoint(server, 5_000);
    const { port } = await delayed.listen(0, '127.0.0.1');
    const probe = tlsHandshakeProbe({ claim: { certificatePem: tls.cert, privateKeyPem: tls.key }, caPem: tls.ca });
    const pending = probe({ region: 'eu-central-1', host: '127.0.0.1', port }, 4_000).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Act
    await delayed.close();

    // Assess
    expect(await pending).toMatchObject({ name: 'ProbeFailed' });
  });
});

describe('regionDelaysMs of the local cloud', () => {
  it.each([
    [{ 'eu-west-1': 10 }, /eu-west-1: not an emulated region/],
    [{ 'us-east-1': -1 }, /us-east-1: -1 is not a whole number/],
    [{ 'us-east-1': 2.5 }, /us-east-1: 2.5 is not a whole number/],
    [{ 'us-east-1': 10_001 }, /from 0 to 10000/],
  ])('refuses %j', (delays, message) => {
    // Act
    const problems = regionDelayProblems(delays, ['us-east-1', 'eu-central-1']);

    // Assess
    expect(problems.join('; ')).toMatch(message);
  });

  it('refuses to start with an invalid delay, naming the region', async () => {
    // Act
    const error = await startLocalCloud({ regions: ['us-east-1'], regionDelaysMs: { 'ap-south-1': 20 }, dynamo: false, log: createLogger('silent') }).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'LocalCloudConfigError', message: expect.stringMatching(/ap-south-1/) });
  });
});
