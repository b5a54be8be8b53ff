import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { type OpsCloud, startOpsCloud, writeTestFile } from './helpers.js';

/**
 * `move`, `rotate`, `policy`, `regions drain --migrate` and `enroll --policy` against the local
 * cloud: the registry in dynalite, the request in each device's classic shadow read back through
 * the IoT data plane's HTTP API. Each refusal is checked to change neither the record nor the
 * shadow.
 */

let c: OpsCloud;
let data: IoTDataPlaneClient;
beforeAll(async () => {
  // German devices may only use eu-central-1 and us-east-1, French ones eu-central-1 alone.
  c = await startOpsCloud({ residency: { DE: ['eu-central-1', 'us-east-1'], FR: ['eu-central-1'] } });
  data = new IoTDataPlaneClient({ region: 'us-east-1', endpoint: c.iotEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}, 60_000);
afterAll(async () => {
  data?.destroy();
  await c?.close();
});

const CERT = 'a'.repeat(64);
let counter = 0;

/** A device provisioned in `region` through the registry's own transitions (enrol, assign, hook, confirm). */
async function provisioned(region: string, options: { policy?: 'never' | 'reset' | 'migrate'; country?: string; prefix?: string } = {}): Promise<string> {
  const name = `${options.prefix ?? 'req'}-${++counter}`;
  await c.registry.enroll({ thingName: name, ...(options.policy ? { reprovisionPolicy: options.policy } : {}) });
  const now = Date.now();
  await c.registry.assign({ thingName: name, expectedStatus: 'unprovisioned', region, requestTs: now, ticketId: `t-${name}`, ticketExpiresAt: now + 900_000, ...(options.country ? { country: options.country } : {}) });
  await c.registry.beginProvisioning({ thingName: name, region, ticketId: `t-${name}`, certificateId: CERT, maxAttempts: 3 });
  expect(await c.registry.confirm(name, CERT, region)).toBe(true);
  return name;
}

/** The device's lifecycle section of its shadow's desired state in `region`, or undefined when there is no shadow. */
async function shadowRequest(thingName: string, region: string): Promise<Record<string, unknown> | undefined> {
  const client = new IoTDataPlaneClient({ region, endpoint: c.iotEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const out = await client.send(new GetThingShadowCommand({ thingName }));
    const doc = JSON.parse(Buffer.from(out.payload ?? new Uint8Array()).toString('utf8')) as { state?: { desired?: Record<string, unknown> } };
    return doc.state?.desired?.['iotProvisioning'] as Record<string, unknown> | undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return undefined;
    throw error;
  } finally {
    client.destroy();
  }
}

const record = async (name: string): Promise<DeviceRecord | undefined> => c.registry.get(name);
const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

/** A refusal: the exit code, the message, and nothing changed (record and shadow). */
async function expectRefused(argv: string[], name: string, region: string, code: number, message: RegExp): Promise<void> {
  const before = await record(name);
  const shadowBefore = await shadowRequest(name, region);
  const run = await c.cli(argv);
  expect(run.code).toBe(code);
  expect(run.err).toMatch(message);
  expect(await record(name)).toEqual(before);
  expect(await shadowRequest(name, region)).toEqual(shadowBefore);
}

describe('ops move <thing>', () => {
  it('marks the device moving and writes the request into its shadow in the region it runs in', async () => {
    // Prepare
    const name = await provisioned('eu-central-1');

    // Act
    const run = await c.cli(['move', name, '--to', 'ap-northeast-1', '--reason', 'closer to its users', '--json']);

    // Assess
    expect(run.code).toBe(EXIT.ok);
    const out = json(run.out) as { items: { outcome: string; region: string; id: string; shadow: string }[] };
    expect(out.items).toEqual([expect.objectContaining({ thingName: name, outcome: 'requested', region: 'eu-central-1', shadow: 'written' })]);
    expect(await record(name)).toMatchObject({ prov_status: 'moving', aws_region: 'eu-central-1', certificate_id: CERT, move_to: 'ap-northeast-1', move_reason: 'closer to its users', move_id: out.items[0]?.id });
    expect(await shadowRequest(name, 'eu-central-1')).toEqual({ move: { id: out.items[0]?.id, to: 'ap-northeast-1', requestedAt: expect.any(String) } });
  });

  it('asked again with the same target answers unchanged, with the same request id', async () => {
    // Prepare
    const name = await provisioned('eu-central-1');
    const first = json((await c.cli(['move', name, '--to', 'us-east-1', '--json'])).out) as { items: { id: string }[] };

    // Act
    const again = await c.cli(['move', name, '--to', 'us-east-1', '--json']);

    // Assess
    expect(again.code).toBe(EXIT.ok);
    expect((json(again.out) as { items: unknown[] }).items).toEqual([expect.objectContaining({ outcome: 'unchanged', id: first.items[0]?.id, shadow: 'written' })]);
  });

  it('defaults to nearest and prints a table', async () => {
    // Prepare
    const name = await provisioned('us-east-1');

    // Act
    const run = await c.cli(['move', name]);

    // Assess
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(new RegExp(`${name}\\s+requested\\s+us-east-1\\s+m-`));
    expect(run.out).toMatch(/move: requested 1/);
    expect(await record(name)).toMatchObject({ prov_status: 'moving', move_to: 'nearest' });
  });

  it('--dry-run says what it would ask and changes nothing', async () => {
    // Prepare
    const name = await provisioned('us-east-1');

    // Act & Assess
    await expectRefused(['move', name, '--to', 'eu-central-1', '--dry-run'], name, 'us-east-1', EXIT.ok, /^$/);
    const run = await c.cli(['move', name, '--to', 'eu-central-1', '--dry-run']);
    expect(run.out).toMatch(/would move: would 1 \(dry run: nothing changed\)/);
  });

  it('refuses an unknown region (exit 2), changing nothing', async () => {
    const name = await provisioned('us-east-1');
    await expectRefused(['move', name, '--to', 'xx-moon-1'], name, 'us-east-1', EXIT.usage, /xx-moon-1 is not an AWS region with AWS IoT Core/);
  });

  it('refuses a region that is not enabled (exit 2), changing nothing', async () => {
    const name = await provisioned('us-east-1');
    await expectRefused(['move', name, '--to', 'sa-east-1'], name, 'us-east-1', EXIT.usage, /sa-east-1 is not an enabled region/);
  });

  it('refuses a move that breaks the residency rule of the device country (exit 2), changing nothing', async () => {
    const name = await provisioned('eu-central-1', { country: 'DE' });
    await expectRefused(['move', name, '--to', 'ap-northeast-1'], name, 'eu-central-1', EXIT.usage, /is in DE, whose devices may only use eu-central-1, us-east-1/);
  });

  it('refuses nearest when no other region may take the device (exit 2), changing nothing', async () => {
    const name = await provisioned('eu-central-1', { country: 'FR' });
    await expectRefused(['move', name], name, 'eu-central-1', EXIT.usage, /no region other than eu-central-1 can take .* residency FR: eu-central-1/);
  });

  it('refuses a draining region (exit 2), changing nothing', async () => {
    const name = await provisioned('us-east-1');
    await c.registry.setRegionDraining('ap-northeast-1', true);
    try {
      await expectRefused(['move', name, '--to', 'ap-northeast-1'], name, 'us-east-1', EXIT.usage, /ap-northeast-1 is draining: it takes no devices/);
    } finally {
      await c.registry.setRegionDraining('ap-northeast-1', false);
    }
  });

  it('refuses a blocked device (exit 1), changing nothing; so does a dry run', async () => {
    const name = await provisioned('us-east-1');
    await c.registry.block(name, 'stolen');
    await expectRefused(['move', name, '--to', 'eu-central-1'], name, 'us-east-1', EXIT.failed, new RegExp(`thing ${name} is blocked`));
    await expectRefused(['move', name, '--to', 'eu-central-1', '--dry-run'], name, 'us-east-1', EXIT.failed, new RegExp(`thing ${name} is blocked`));
  });

  it('refuses a second move while one is in flight (exit 1), changing nothing', async () => {
    const name = await provisioned('us-east-1');
    expect((await c.cli(['move', name, '--to', 'eu-central-1'])).code).toBe(EXIT.ok);
    await expectRefused(['move', name, '--to', 'ap-northeast-1'], name, 'us-east-1', EXIT.failed, /already moving \(to eu-central-1/);
  });

  it('refuses a device whose policy is never (exit 1), changing nothing', async () => {
    const name = await provisioned('us-east-1', { policy: 'never' });
    await expectRefused(['move', name, '--to', 'eu-central-1'], name, 'us-east-1', EXIT.failed, /reprovisioning policy never: it may not be moved/);
  });

  it('refuses the region the device is in, and an unenrolled thing (exit 1)', async () => {
    const name = await provisioned('us-east-1');
    await expectRefused(['move', name, '--to', 'us-east-1'], name, 'us-east-1', EXIT.failed, /already in us-east-1/);
    const run = await c.cli(['move', 'nobody-here', '--to', 'us-east-1']);
    expect(run.code).toBe(EXIT.failed);
    expect(run.err).toMatch(/thing nobody-here is not enrolled/);
  });

  it('reports a shadow it could not write (exit 3), and a re-run asks again with the same request', async () => {
    // Prepare: a device in a region whose data plane does not answer (the local cloud does not run sa-east-1).
    const name = await provisioned('sa-east-1');

    // Act
    const run = await c.cli(['move', name, '--to', 'us-east-1', '--json']);
    const again = await c.cli(['move', name, '--to', 'us-east-1', '--json']);

    // Assess: the registry took the request; the device learns of it once its shadow says so.
    expect(run.code).toBe(EXIT.partial);
    expect((json(run.out) as { items: unknown[] }).items).toEqual([expect.objectContaining({ outcome: 'requested', shadow: 'failed', detail: expect.stringMatching(/run the same command again/) })]);
    expect(await record(name)).toMatchObject({ prov_status: 'moving', move_to: 'us-east-1' });
    expect(again.code).toBe(EXIT.partial);
    expect((json(again.out) as { items: unknown[] }).items).toEqual([expect.objectContaining({ outcome: 'unchanged', shadow: 'failed' })]);
  });

  it('refuses a thing and --from-region together, or neither (exit 2)', async () => {
    expect((await c.cli(['move'])).code).toBe(EXIT.usage);
    expect((await c.cli(['move', 'x', '--from-region', 'us-east-1'])).code).toBe(EXIT.usage);
    expect((await c.cli(['move', '--from-region', 'us-east-1', '--rate', 'fast'])).err).toMatch(/--rate: a rate such as 5, 5\/s or 300\/min/);
  });
});

describe('ops move --from-region', () => {
  it('asks the devices of a region, at most --limit, skipping a device whose policy is never', async () => {
    // Prepare: three devices in ap-northeast-1, the first of which may not move.
    const never = await provisioned('ap-northeast-1', { policy: 'never', prefix: 'apn' });
    const a = await provisioned('ap-northeast-1', { prefix: 'apn' });
    const b = await provisioned('ap-northeast-1', { prefix: 'apn' });

    // Act
    const run = await c.cli(['move', '--from-region', 'ap-northeast-1', '--to', 'us-east-1', '--limit', '2', '--rate', '50/s', '--json']);

    // Assess: the first two by name were asked; never is a skip, not a failure.
    expect(run.code).toBe(EXIT.ok);
    const out = json(run.out) as { counts: Record<string, number>; items: { thingName: string; outcome: string }[] };
    expect(out.items.map((i) => [i.thingName, i.outcome])).toEqual([
      [never, 'skipped'],
      [a, 'requested'],
    ]);
    expect(out.counts).toEqual({ skipped: 1, requested: 1 });
    expect(await record(never)).toMatchObject({ prov_status: 'provisioned' });
    expect(await record(b)).toMatchObject({ prov_status: 'provisioned' });
    expect(await shadowRequest(a, 'ap-northeast-1')).toMatchObject({ move: { to: 'us-east-1' } });
  });

  it('--dry-run answers for each device as the real run would, and changes nothing', async () => {
    // Prepare
    const name = await provisioned('ap-northeast-1', { prefix: 'apdry' });
    const before = await record(name);

    // Act
    const run = await c.cli(['move', '--from-region', 'ap-northeast-1', '--to', 'us-east-1', '--dry-run', '--json']);

    // Assess
    expect(run.code).toBe(EXIT.ok);
    const out = json(run.out) as { dryRun: boolean; items: { thingName: string; outcome: string; shadow?: string }[] };
    expect(out.dryRun).toBe(true);
    expect(out.items).toContainEqual(expect.objectContaining({ thingName: name, outcome: 'would', shadow: 'skipped' }));
    expect(await record(name)).toEqual(before);
    expect(await shadowRequest(name, 'ap-northeast-1')).toBeUndefined();
  });

  it('refuses an unknown target before asking any device (exit 2)', async () => {
    const name = await provisioned('ap-northeast-1', { prefix: 'apx' });
    await expectRefused(['move', '--from-region', 'ap-northeast-1', '--to', 'xx-moon-1'], name, 'ap-northeast-1', EXIT.usage, /xx-moon-1 is not an AWS region/);
    await expectRefused(['move', '--from-region', 'ap-northeast-1', '--to', 'ap-northeast-1'], name, 'ap-northeast-1', EXIT.usage, /is the region the devices leave/);
  });
});

describe('ops rotate', () => {
  it('writes the rotation request into the shadow of a provisioned device', async () => {
    // Prepare
    const name = await provisioned('eu-central-1');

    // Act
    const run = await c.cli(['rotate', name, '--json']);

    // Assess
    expect(run.code).toBe(EXIT.ok);
    const id = (json(run.out) as { items: { id: string }[] }).items[0]?.id;
    expect(id).toMatch(/^r-/);
    expect(await record(name)).toMatchObject({ prov_status: 'provisioned', rotation_id: id });
    expect(await shadowRequest(name, 'eu-central-1')).toEqual({ rotate: { id, requestedAt: expect.any(String) } });
  });

  it('refuses a device that is not provisioned (exit 1), changing nothing', async () => {
    await c.registry.enroll({ thingName: 'rot-unprov' });
    await expectRefused(['rotate', 'rot-unprov'], 'rot-unprov', 'us-east-1', EXIT.failed, /rot-unprov is unprovisioned, not provisioned/);
  });

  it('refuses a blocked device (exit 1), changing nothing; so does a dry run', async () => {
    const name = await provisioned('us-east-1');
    await c.registry.block(name, 'stolen');
    await expectRefused(['rotate', name], name, 'us-east-1', EXIT.failed, new RegExp(`thing ${name} is blocked`));
    await expectRefused(['rotate', name, '--dry-run'], name, 'us-east-1', EXIT.failed, new RegExp(`thing ${name} is blocked`));
  });

  it('--all --region asks every provisioned device of the region', async () => {
    // Prepare
    const names = [await provisioned('ap-northeast-1', { prefix: 'rotall' }), await provisioned('ap-northeast-1', { prefix: 'rotall' })];

    // Act
    const run = await c.cli(['rotate', '--all', '--region', 'ap-northeast-1', '--rate', '100', '--json']);

    // Assess
    expect(run.code).toBe(EXIT.ok);
    const items = (json(run.out) as { items: { thingName: string; outcome: string }[] }).items;
    for (const name of names) expect(items).toContainEqual(expect.objectContaining({ thingName: name, outcome: 'requested' }));
    for (const name of names) expect(await shadowRequest(name, 'ap-northeast-1')).toMatchObject({ rotate: { id: expect.stringMatching(/^r-/) } });
  });
});

describe('ops policy', () => {
  it('shows the default, sets a policy, and refuses never while a move is in flight', async () => {
    // Prepare
    const name = await provisioned('us-east-1');

    // Act
    const shown = await c.cli(['policy', name]);
    const set = await c.cli(['policy', name, 'reset', '--json']);
    await c.cli(['move', name, '--to', 'eu-central-1']);
    const before = await record(name);
    const never = await c.cli(['policy', name, 'never']);

    // Assess
    expect(shown.out).toBe(`${name}: migrate (the deployment default)\n`);
    expect(json(set.out)).toMatchObject({ before: { policy: 'migrate', source: 'default' }, after: { policy: 'reset', source: 'device' }, changed: true });
    expect(never.code).toBe(EXIT.failed);
    expect(never.err).toMatch(/already moving/);
    expect(await record(name)).toEqual(before);
  });

  it('refuses a policy that does not exist (exit 2) and an unenrolled thing (exit 1)', async () => {
    const name = await provisioned('us-east-1');
    const bad = await c.cli(['policy', name, 'sometimes']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/<policy>/);
    expect((await record(name))?.reprovision_policy).toBeUndefined();
    expect((await c.cli(['policy', 'nobody-here', 'reset'])).code).toBe(EXIT.failed);
  });
});

describe('ops enroll --policy and the policy column', () => {
  it('records the policy of one device, and of each CSV row', async () => {
    // Prepare
    const file = writeTestFile(c.dir, 'policies.csv', 'thing_name,policy\npol-csv-1,never\npol-csv-2,\npol-csv-3,reset\n');

    // Act
    const one = await c.cli(['enroll', 'pol-one', '--policy', 'reset']);
    const many = await c.cli(['enroll', '--file', file]);

    // Assess
    expect(one.code).toBe(EXIT.ok);
    expect(many.code).toBe(EXIT.ok);
    expect((await record('pol-one'))?.reprovision_policy).toBe('reset');
    expect((await record('pol-csv-1'))?.reprovision_policy).toBe('never');
    expect((await record('pol-csv-2'))?.reprovision_policy).toBeUndefined();
    expect((await record('pol-csv-3'))?.reprovision_policy).toBe('reset');
  });

  it('refuses a policy that does not exist, writing nothing', async () => {
    // Prepare
    const file = writeTestFile(c.dir, 'bad-policy.csv', 'thing_name,policy\npol-bad-1,reset\npol-bad-2,always\n');

    // Act
    const run = await c.cli(['enroll', '--file', file]);
    const one = await c.cli(['enroll', 'pol-bad-3', '--policy', 'always']);

    // Assess
    expect(run.code).toBe(EXIT.usage);
    expect(run.out).toMatch(/line 3\s+pol-bad-2\s+reprovisionPolicy: /);
    expect(one.code).toBe(EXIT.usage);
    expect(await record('pol-bad-1')).toBeUndefined();
    expect(await record('pol-bad-3')).toBeUndefined();
  });
});

describe('ops regions drain --migrate', () => {
  it('refuses a target that is the drained region itself before draining anything (exit 2)', async () => {
    const name = await provisioned('eu-central-1', { prefix: 'drainx' });
    await expectRefused(['regions', 'drain', 'eu-central-1', '--migrate', '--to', 'eu-central-1'], name, 'eu-central-1', EXIT.usage, /is the region the devices leave/);
    expect(await c.registry.getDrainingRegions()).toEqual([]);
  });

  it('drains the region, then asks its devices to move (each by its policy), and a re-run asks them again', async () => {
    // Prepare: every device still provisioned in eu-central-1 at this point, and one German device.
    const german = await provisioned('eu-central-1', { country: 'DE', prefix: 'drain' });
    const other = await provisioned('eu-central-1', { prefix: 'drain' });

    // Act
    const run = await c.cli(['regions', 'drain', 'eu-central-1', '--migrate', '--rate', '200/s', '--json']);
    const again = await c.cli(['regions', 'drain', 'eu-central-1', '--migrate', '--rate', '200/s', '--json']);

    // Assess
    expect(await c.registry.getDrainingRegions()).toEqual(['eu-central-1']);
    const out = json(run.out) as { drain: { changed: boolean }; items: { thingName: string; outcome: string }[] };
    expect(out.drain.changed).toBe(true);
    expect(out.items).toContainEqual(expect.objectContaining({ thingName: german, outcome: 'requested' }));
    expect(out.items).toContainEqual(expect.objectContaining({ thingName: other, outcome: 'requested' }));
    expect(await record(german)).toMatchObject({ prov_status: 'moving', move_to: 'nearest', move_reason: 'drain eu-central-1' });
    expect(await shadowRequest(other, 'eu-central-1')).toMatchObject({ move: { to: 'nearest' } });
    const second = json(again.out) as { drain: { changed: boolean }; items: { thingName: string; outcome: string }[] };
    expect(second.drain.changed).toBe(false);
    expect(second.items).toContainEqual(expect.objectContaining({ thingName: other, outcome: 'unchanged' }));
    // A device that was already moving elsewhere is asked again for its own move, not refused;
    // the French device, whose residency allows only this region, has nowhere to go (exit 3).
    const refused = (second as { items: { outcome: string; reason?: string }[] }).items.filter((i) => i.outcome === 'refused');
    expect(refused.map((i) => i.reason)).toEqual(['no-other-region']);
    expect(again.code).toBe(EXIT.partial);
    await c.registry.setRegionDraining('eu-central-1', false);
  });
});
