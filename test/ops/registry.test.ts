import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { listDevices } from '@global-iot/ops/lib/registry.js';
import { type OpsCloud, startOpsCloud, writeTestFile } from './helpers.js';

let c: OpsCloud;
beforeAll(async () => {
  c = await startOpsCloud();
});
afterAll(async () => {
  await c.close();
});

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

describe('ops enroll (one device)', () => {
  it('enrols a device with its key, pinned region and attributes; the same again is unchanged, a different one a conflict', async () => {
    // Prepare
    const key = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const keyFile = writeTestFile(c.dir, 'one.pem', key);
    const args = ['enroll', 'one-1', '--public-key-file', keyFile, '--pinned-region', 'eu-central-1', '--attr', 'model=x1', '--attr', 'site=a=b'];
    // Act
    const first = await c.cli(args);
    const again = await c.cli(args);
    const other = await c.cli(['enroll', 'one-1', '--pinned-region', 'ap-northeast-1']);
    // Assess
    expect(first.code).toBe(EXIT.ok);
    expect(first.out).toContain('created 1');
    expect(again.out).toContain('unchanged 1');
    expect(other.code).toBe(EXIT.failed);
    expect(other.out).toMatch(/conflict.*already enrolled with a different/);
    expect(await c.registry.get('one-1')).toMatchObject({ public_key: key, pinned_region: 'eu-central-1', attributes: { model: 'x1', site: 'a=b' } });
  });

  it('refuses a bad device before writing, with exit code 2', async () => {
    // Act
    const badName = await c.cli(['enroll', 'bad name']);
    const badRegion = await c.cli(['enroll', 'one-2', '--pinned-region', 'eu-west-1']);
    const both = await c.cli(['enroll', 'one-3', '--file', 'x.csv']);
    const neither = await c.cli(['enroll']);
    // Assess
    for (const run of [badName, badRegion, both, neither]) expect(run.code).toBe(EXIT.usage);
    expect(badRegion.err).toMatch(/eu-west-1 is not an enabled region/);
    expect(await c.registry.get('one-2')).toBeUndefined();
  });

  it('writes nothing on a dry run', async () => {
    // Act
    const run = await c.cli(['enroll', 'one-dry', '--dry-run', '--json']);
    // Assess
    expect(run.code).toBe(EXIT.ok);
    expect(json(run.out)).toMatchObject({ dryRun: true, written: false, counts: { created: 1 } });
    expect(await c.registry.get('one-dry')).toBeUndefined();
  });
});

describe('ops enroll --file', () => {
  it('enrols 10,000 devices from a JSON file, and a re-run reports all unchanged', async () => {
    // Prepare
    const devices = Array.from({ length: 10_000 }, (_, i) => ({ thingName: `fleet-${i}`, attributes: { lot: String(i % 10) } }));
    const file = writeTestFile(c.dir, 'fleet.json', JSON.stringify(devices));
    // Act
    const first = await c.cli(['enroll', '--file', file, '--json']);
    const again = await c.cli(['enroll', '--file', file]);
    // Assess
    expect(first.code).toBe(EXIT.ok);
    const report = json(first.out);
    expect(report['counts']).toEqual({ created: 10_000, unchanged: 0, conflict: 0, failed: 0, invalid: 0 });
    expect((report['results'] as unknown[]).length).toBe(10_000);
    expect(again.code).toBe(EXIT.ok);
    expect(again.out).toContain('enrolled: created 0, unchanged 10000, conflict 0, failed 0, invalid 0');
    expect(await c.registry.get('fleet-9999')).toMatchObject({ prov_status: 'unprovisioned', attributes: { lot: '9' } });
  });

  it('refuses a file with an invalid row as a whole (exit 2, nothing written) and lists each bad row', async () => {
    // Prepare
    const file = writeTestFile(c.dir, 'mixed.csv', 'thing_name,pinned_region\nmixed-ok,\nmixed bad,\nmixed-region,sa-east-1\n');
    // Act
    const run = await c.cli(['enroll', '--file', file]);
    // Assess
    expect(run.code).toBe(EXIT.usage);
    expect(run.out).toMatch(/line 3\s+mixed bad\s+thingName: thing name must be/);
    expect(run.out).toMatch(/line 4\s+mixed-region\s+pinnedRegion: sa-east-1 is not an enabled region/);
    expect(run.out).toContain('nothing written');
    expect(await c.registry.get('mixed-ok')).toBeUndefined();
  });

  it('with --allow-partial enrols the valid rows and exits 3', async () => {
    // Prepare
    const file = writeTestFile(c.dir, 'partial.csv', 'thing_name\npartial-ok\npartial bad\n');
    // Act
    const run = await c.cli(['enroll', '--file', file, '--allow-partial', '--json']);
    // Assess
    expect(run.code).toBe(EXIT.partial);
    expect(json(run.out)).toMatchObject({ written: true, counts: { created: 1, invalid: 1 } });
    expect(await c.registry.get('partial-ok')).toBeDefined();
  });

  it('reports conflicts in a file and exits 3; --dry-run on a file writes nothing', async () => {
    // Prepare
    await c.registry.enroll({ thingName: 'file-conflict', attributes: { a: '1' } });
    const file = writeTestFile(c.dir, 'conflict.json', '{"thingName":"file-conflict","attributes":{"a":"2"}}\n{"thingName":"file-new"}\n');
    // Act
    const dry = await c.cli(['enroll', '--file', file, '--dry-run']);
    const run = await c.cli(['enroll', '--file', file, '--conditional']);
    // Assess
    expect(dry.code).toBe(EXIT.partial);
    expect(dry.out).toContain('would enrol: created 1, unchanged 0, conflict 1');
    expect(run.code).toBe(EXIT.partial);
    expect(run.out).toMatch(/file-conflict\s+conflict\s+already enrolled with a different attributes/);
    expect((await c.registry.get('file-conflict'))?.attributes).toEqual({ a: '1' });
    expect(await c.registry.get('file-new')).toBeDefined();
  });

  it('reads devices from standard input', async () => {
    // Act
    const run = await c.cli(['enroll', '--file', '-', '--format', 'csv'], 'thing_name,attr.lot\nstdin-1,7\n');
    const sniffed = await c.cli(['enroll', '--file', '-'], '[{"thingName":"stdin-2"}]');
    // Assess
    expect(run.code).toBe(EXIT.ok);
    expect(sniffed.code).toBe(EXIT.ok);
    expect((await c.registry.get('stdin-1'))?.attributes).toEqual({ lot: '7' });
    expect(await c.registry.get('stdin-2')).toBeDefined();
  });

  it('refuses an unreadable file and an unknown CSV column with exit 2', async () => {
    const missing = await c.cli(['enroll', '--file', join(c.dir, 'nope.csv')]);
    const header = await c.cli(['enroll', '--file', writeTestFile(c.dir, 'hdr.csv', 'thing_name,colour\na,b\n')]);
    expect(missing.code).toBe(EXIT.usage);
    expect(header.code).toBe(EXIT.usage);
    expect(header.err).toMatch(/unknown column "colour"/);
  });
});

describe('ops status, list, reset, block, unblock, export', () => {
  beforeAll(async () => {
    for (const name of ['life-1', 'life-2', 'life-3', 'life-4', 'life-5']) await c.registry.enroll({ thingName: name });
    await c.registry.assign({ thingName: 'life-2', expectedStatus: 'unprovisioned', region: 'eu-central-1', ticketId: 't-2', ticketExpiresAt: Date.now() + 60_000 });
  });

  it('shows a device as a table or JSON; a missing device exits 1, a bad name 2', async () => {
    // Act
    const table = await c.cli(['status', 'life-2']);
    const asJson = await c.cli(['status', 'life-2', '--json']);
    const missing = await c.cli(['status', 'nobody', '--json']);
    const bad = await c.cli(['status', 'bad/name']);
    // Assess
    expect(table.out).toMatch(/prov_status\s+assigned/);
    expect(json(asJson.out)).toMatchObject({ thing_name: 'life-2', prov_status: 'assigned', aws_region: 'eu-central-1' });
    expect(missing.code).toBe(EXIT.failed);
    expect(json(missing.out)).toMatchObject({ error: { name: 'OperationFailed', message: 'thing nobody is not enrolled' } });
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toBe('error: "bad/name" is not a thing name (1 to 128 characters of [a-zA-Z0-9:_-])\n');
  });

  it('lists by status and region, a page at a time, until every device has been seen once', async () => {
    // Act
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await listDevices(c.target, { limit: 2_000, ...(token ? { nextToken: token } : {}) });
      seen.push(...page.items.map((d) => d.thing_name));
      token = page.nextToken;
      pages++;
    } while (token);
    const assigned = await c.cli(['list', '--status', 'assigned', '--region', 'eu-central-1', '--json']);
    const first = await c.cli(['list', '--status', 'unprovisioned', '--limit', '2', '--json']);
    const firstPage = json(first.out);
    const second = await c.cli(['list', '--status', 'unprovisioned', '--limit', '2', '--next-token', String(firstPage['nextToken']), '--json']);
    const table = await c.cli(['list', '--status', 'assigned']);
    // Assess
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain('life-5');
    expect(pages).toBeGreaterThan(1);
    expect((json(assigned.out)['items'] as { thing_name: string }[]).map((d) => d.thing_name)).toEqual(['life-2']);
    const names = [...(firstPage['items'] as { thing_name: string }[]), ...(json(second.out)['items'] as { thing_name: string }[])].map((d) => d.thing_name);
    expect(new Set(names).size).toBe(4);
    expect(table.out).toMatch(/THING\s+STATUS\s+REGION/);
    expect(table.out).toMatch(/life-2\s+assigned\s+eu-central-1/);
  });

  it('refuses a bad filter, limit or token with exit 2', async () => {
    for (const args of [['--status', 'gone'], ['--limit', '0'], ['--region', 'mars'], ['--next-token', 'bm90IGEgdGhpbmc_']]) {
      const run = await c.cli(['list', ...args]);
      expect(run.code, args.join(' ')).toBe(EXIT.usage);
    }
  });

  it('resets, blocks and unblocks with the reason recorded; --dry-run changes nothing', async () => {
    // Act
    const dry = await c.cli(['reset', 'life-2', '--reason', 'rma', '--dry-run', '--json']);
    const afterDry = await c.registry.get('life-2');
    const reset = await c.cli(['reset', 'life-2', '--reason', 'returned for repair']);
    const afterReset = await c.registry.get('life-2');
    const block = await c.cli(['block', 'life-2', '--reason', 'stolen']);
    const resetBlocked = await c.cli(['reset', 'life-2', '--reason', 'oops']);
    const unblock = await c.cli(['unblock', 'life-2', '--reason', 'found', '--json']);
    const unblockAgain = await c.cli(['unblock', 'life-2', '--reason', 'again']);
    // Assess
    expect(json(dry.out)).toMatchObject({ from: 'assigned', to: 'unprovisioned', dryRun: true });
    expect(afterDry?.prov_status).toBe('assigned');
    expect(reset.out).toMatch(/^life-2: assigned -> unprovisioned\n/);
    expect(reset.out).toMatch(/registry +- +- +done +assigned -> unprovisioned/);
    expect(afterReset).toMatchObject({ prov_status: 'unprovisioned', status_reason: 'returned for repair' });
    expect(afterReset?.aws_region).toBeUndefined();
    expect(block.code).toBe(EXIT.ok);
    expect(resetBlocked.code).toBe(EXIT.failed);
    expect(resetBlocked.err).toMatch(/blocked; use unblock/);
    expect(json(unblock.out)).toMatchObject({ from: 'blocked', to: 'unprovisioned', record: { status_reason: 'found' } });
    expect(unblockAgain.code).toBe(EXIT.failed);
  });

  it('refuses a status change without a reason (2) or for a device that is not enrolled (1)', async () => {
    expect((await c.cli(['block', 'life-3'])).code).toBe(EXIT.usage);
    expect((await c.cli(['block', 'life-3', '--reason', '  '])).code).toBe(EXIT.usage);
    expect((await c.cli(['block', 'nobody', '--reason', 'x'])).code).toBe(EXIT.failed);
    expect((await c.registry.get('life-3'))?.prov_status).toBe('unprovisioned');
  });

  it('exports as CSV, JSON and JSON lines; the CSV re-imports with every device unchanged', async () => {
    // Act
    const csv = await c.cli(['export', '--format', 'csv', '--out', 'all.csv', '--status', 'unprovisioned']);
    const reimport = await c.cli(['enroll', '--file', 'all.csv', '--json']);
    const asJson = await c.cli(['export', '--region', 'eu-central-1']);
    const lines = await c.cli(['export', '--format', 'ndjson', '--status', 'blocked']);
    // Assess
    expect(csv.code).toBe(EXIT.ok);
    const text = readFileSync(join(c.dir, 'all.csv'), 'utf8');
    expect(text.split('\n')[0]).toMatch(/^thing_name,prov_status,public_key,pinned_region,attributes/);
    expect(text).toContain('one-1,unprovisioned,"-----BEGIN PUBLIC KEY-----');
    const report = json(reimport.out);
    expect(reimport.code).toBe(EXIT.ok);
    expect(report['counts']).toMatchObject({ created: 0, conflict: 0, invalid: 0 });
    expect((report['counts'] as { unchanged: number }).unchanged).toBeGreaterThan(10_000);
    expect(JSON.parse(asJson.out)).toEqual([]);
    expect(lines.out).toBe('');
  });
});
