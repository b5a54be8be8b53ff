import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleet, runFleet } from '@global-iot/local/fleet/run.js';
import { selfSignedServerCert } from '../../helpers/tls.js';

/**
 * The simulator must load the bootstrap as a fleet of real devices would: each device on a
 * connection of its own, with a TLS handshake of its own. A bootstrap that turns every device
 * away (403) keeps the run to that one call per device.
 */

const tls = selfSignedServerCert();
let server: Server;
let handshakes = 0;
let requests = 0;
let outDir: string;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'fleet-connections-'));
  server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    requests += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'Forbidden', message: 'not today' }));
    });
  });
  server.on('secureConnection', () => {
    handshakes += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(outDir, { recursive: true, force: true });
});

describe('fleet simulator connections', () => {
  it('opens one bootstrap connection per device, never one shared across devices', async () => {
    // Prepare
    const devices = createFleet({ count: 6, prefix: 'conn', geo: { lookup: () => undefined }, certificateMode: 'csr' });
    const port = (server.address() as AddressInfo).port;

    // Act
    const run = await runFleet({
      devices,
      concurrency: 2,
      bootstrapUrl: new URL(`https://127.0.0.1:${port}/bootstrap`),
      caPem: tls.cert.toString(),
      claim: { certificatePem: tls.cert.toString(), privateKeyPem: tls.key.toString() },
      protocol: 'mqtt311',
      outDir,
      durable: false,
    });

    // Assess
    expect(run.outcomes.map((o) => [o.ok, o.failure?.step, o.failure?.status])).toEqual(devices.map(() => [false, 'bootstrap', 403]));
    expect(requests).toBe(6);
    expect(handshakes).toBe(6);
  });
});
