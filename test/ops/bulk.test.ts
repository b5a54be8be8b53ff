import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvalidInput } from '@global-iot/core/errors.js';
import { bulkEnroll, type Enrollment } from '@global-iot/core/registry/index.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { startUnprocessedProxy } from './helpers.js';

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t.close();
});

const deps = () => ({ client: t.client, tableName: t.tableName, now: () => t.clock.now });
const devices = (prefix: string, count: number): Enrollment[] =>
  Array.from({ length: count }, (_, i) => ({ thingName: `${prefix}-${String(i).padStart(5, '0')}`, attributes: { batch: prefix } }));

describe('bulkEnroll', () => {
  // 10,000 devices go through the CLI in registry.test.ts; here enough to span many chunks.
  it('enrols a batch across many chunks, and a re-run finds every one unchanged', async () => {
    // Prepare
    const batch = devices('bulk1k', 1_050);
    const progress: number[] = [];
    // Act
    const first = await bulkEnroll(batch, { ...deps(), onProgress: (done) => progress.push(done) });
    const again = await bulkEnroll(batch, deps());
    // Assess
    expect(first.counts).toEqual({ created: 1_050, unchanged: 0, conflict: 0, failed: 0 });
    expect(again.counts).toEqual({ created: 0, unchanged: 1_050, conflict: 0, failed: 0 });
    expect(first.results[1_049]).toEqual({ thingName: 'bulk1k-01049', outcome: 'created' });
    expect(progress).toHaveLength(11);
    expect(progress.at(-1)).toBe(1_050);
    const record = await t.registry.get('bulk1k-00999');
    expect(record).toMatchObject({ prov_status: 'unprovisioned', attributes: { batch: 'bulk1k' }, enrolled_at: new Date(t.clock.now).toISOString() });
  });

  it('reports a device enrolled with another definition as a conflict and leaves it as it was', async () => {
    // Prepare
    await t.registry.enroll({ thingName: 'bulk-conflict-1', pinnedRegion: 'eu-west-1' });
    await t.registry.enroll({ thingName: 'bulk-same-1', attributes: { a: '1', b: '2' } });
    // Act
    const report = await bulkEnroll(
      [
        { thingName: 'bulk-conflict-1', pinnedRegion: 'us-east-1' },
        // Attribute order is not part of the definition.
        { thingName: 'bulk-same-1', attributes: { b: '2', a: '1' } },
        { thingName: 'bulk-new-1' },
      ],
      deps(),
    );
    // Assess
    expect(report.results).toEqual([
      { thingName: 'bulk-conflict-1', outcome: 'conflict', reason: 'already enrolled with a different pinned region' },
      { thingName: 'bulk-same-1', outcome: 'unchanged' },
      { thingName: 'bulk-new-1', outcome: 'created' },
    ]);
    expect((await t.registry.get('bulk-conflict-1'))?.pinned_region).toBe('eu-west-1');
  });

  it('treats a device that has moved on (provisioned) with the same definition as unchanged, without touching it', async () => {
    // Prepare
    await t.registry.enroll({ thingName: 'bulk-moved-1' });
    await t.registry.assign({ thingName: 'bulk-moved-1', expectedStatus: 'unprovisioned', region: 'eu-central-1', ticketId: 'tk', ticketExpiresAt: t.clock.now + 1 });
    // Act
    const report = await bulkEnroll([{ thingName: 'bulk-moved-1' }], deps());
    // Assess
    expect(report.counts.unchanged).toBe(1);
    expect((await t.registry.get('bulk-moved-1'))?.prov_status).toBe('assigned');
  });

  it('writes nothing on a dry run but reports what it would do', async () => {
    // Prepare
    await t.registry.enroll({ thingName: 'bulk-dry-existing' });
    // Act
    const report = await bulkEnroll([{ thingName: 'bulk-dry-existing' }, { thingName: 'bulk-dry-new' }], { ...deps(), dryRun: true });
    // Assess
    expect(report.dryRun).toBe(true);
    expect(report.results.map((r) => r.outcome)).toEqual(['unchanged', 'created']);
    expect(await t.registry.get('bulk-dry-new')).toBeUndefined();
  });

  it('with conditional writes reports created, unchanged and conflict the same way', async () => {
    // Prepare
    await t.registry.enroll({ thingName: 'bulk-cond-conflict', attributes: { x: '1' } });
    // Act
    const report = await bulkEnroll(
      [{ thingName: 'bulk-cond-new' }, { thingName: 'bulk-cond-conflict', attributes: { x: '2' } }, { thingName: 'bulk-cond-new-2' }],
      { ...deps(), conditional: true },
    );
    const again = await bulkEnroll([{ thingName: 'bulk-cond-new' }], { ...deps(), conditional: true });
    // Assess
    expect(report.results.map((r) => r.outcome)).toEqual(['created', 'conflict', 'created']);
    expect(again.results[0]?.outcome).toBe('unchanged');
  });

  it('refuses a batch that lists a thing twice, or an invalid enrolment, before writing anything', async () => {
    // Act / Assess
    await expect(bulkEnroll([{ thingName: 'bulk-dup' }, { thingName: 'bulk-dup' }], deps())).rejects.toThrow(InvalidInput);
    await expect(bulkEnroll([{ thingName: 'bulk-ok' }, { thingName: 'bad name' }], deps())).rejects.toThrow(/enrolment 2/);
    expect(await t.registry.get('bulk-dup')).toBeUndefined();
    expect(await t.registry.get('bulk-ok')).toBeUndefined();
  });

  it('retries the keys and items DynamoDB leaves unprocessed until every device is decided', async () => {
    // Prepare
    const proxy = await startUnprocessedProxy(t.dynamo.endpoint, { keep: 7, remaining: 6 });
    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: proxy.endpoint, credentials: { accessKeyId: 't', secretAccessKey: 't' } });
    await t.registry.enroll({ thingName: 'bulk-unproc-00003' });
    try {
      // Act
      const report = await bulkEnroll(devices('bulk-unproc', 60), { client, tableName: t.tableName, concurrency: 1, sleep: async () => {} });
      // Assess
      expect(proxy.cut.reads + proxy.cut.writes).toBeGreaterThan(0);
      expect(report.counts).toEqual({ created: 59, unchanged: 0, conflict: 1, failed: 0 });
      expect(await t.registry.get('bulk-unproc-00059')).toBeDefined();
    } finally {
      client.destroy();
      await proxy.close();
    }
  });

  it('reports devices as failed when DynamoDB keeps leaving them unprocessed', async () => {
    // Prepare
    const proxy = await startUnprocessedProxy(t.dynamo.endpoint, { keep: 0, remaining: 1_000 });
    const client = new DynamoDBClient({ region: 'us-east-1', endpoint: proxy.endpoint, credentials: { accessKeyId: 't', secretAccessKey: 't' } });
    try {
      // Act
      const report = await bulkEnroll([{ thingName: 'bulk-stuck-1' }], { client, tableName: t.tableName, maxAttempts: 3, sleep: async () => {} });
      // Assess
      expect(report.results[0]).toMatchObject({ thingName: 'bulk-stuck-1', outcome: 'failed' });
      expect(report.results[0]?.reason).toMatch(/unprocessed after 3/);
    } finally {
      client.destroy();
      await proxy.close();
    }
  });

  it('reports every device of a chunk as failed when DynamoDB refuses the call', async () => {
    // Act
    const report = await bulkEnroll([{ thingName: 'bulk-no-table' }], { client: t.client, tableName: 'no-such-table', sleep: async () => {} });
    // Assess
    expect(report.results[0]).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/ResourceNotFound/) });
  });
});
