import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { DeviceRegistry, ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { startDynalite } from '@global-iot/local/dynamodb.js';
import { httpApiEvent, makeHarness, parseAnswer } from '../helpers/bootstrap.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('when DynamoDB is unavailable', () => {
  it('answers 503 with Retry-After and changes nothing', async () => {
    // Prepare: a registry on disk, so the same data is there after a restart.
    const dataDir = mkdtempSync(join(tmpdir(), 'dynalite-'));
    // Pushed first, so it runs last: after the restarted dynalite below has closed.
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const first = await startDynalite({ dataDir });
    const port = first.port;
    const tableName = `registry-${randomUUID().slice(0, 8)}`;
    const setup = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: first.endpoint,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    await ensureRegistryTable(setup, tableName);
    await new DeviceRegistry({ client: setup, tableName }).enroll({ thingName: 'offline-1' });
    setup.destroy();
    await first.close();

    const client = getDynamoClient({ region: 'us-east-1', endpoint: first.endpoint, requestTimeoutMs: 300, connectionTimeoutMs: 300, maxAttempts: 2 });
    const registry = new DeviceRegistry({ client, tableName });
    const h = makeHarness({ registry, now: Date.now });
    // Act
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, 'offline-1', Date.now())));
    // Assess
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('5');
    expect(parseAnswer(res)).toMatchObject({ status: 'error', code: 'SERVICE_UNAVAILABLE' });
    const second = await startDynalite({ dataDir, port });
    cleanups.push(() => second.close());
    const record = await registry.get('offline-1');
    expect(record?.prov_status).toBe('unprovisioned');
    expect(record?.last_request_ts).toBeUndefined();
  });

  it('answers 429 with Retry-After when DynamoDB throttles', async () => {
    // Prepare: a stand-in endpoint that speaks DynamoDB's JSON protocol and always throttles.
    let calls = 0;
    const server: Server = createServer((req, res) => {
      calls++;
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
            message: 'The level of configured provisioned throughput for the table was exceeded.',
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const registry = new DeviceRegistry({ client: getDynamoClient({ region: 'us-east-1', endpoint, maxAttempts: 1 }), tableName: 't' });
    const h = makeHarness({ registry, now: Date.now });
    // Act
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, 'busy-1', Date.now())));
    // Assess
    expect(calls).toBeGreaterThan(0);
    expect(res.statusCode).toBe(429);
    expect(res.headers?.['retry-after']).toBeDefined();
    expect(parseAnswer(res)['code']).toBe('THROTTLED');
  });
});
