import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConditionFailed } from '@global-iot/core/errors.js';
import { DeviceRegistry, LifecycleRefused } from '@global-iot/core/registry/index.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * The registry's lifecycle transitions (core/registry/lifecycle.ts): each one conditional
 * write, idempotent, and a refusal that names its reason and changes nothing.
 */

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t.close();
});

const CERT_A = 'a'.repeat(64);
const CERT_B = 'b'.repeat(64);
const CERT_C = 'c'.repeat(64);
let counter = 0;

/** A device provisioned in eu-central-1 with CERT_A, through the real transitions. */
async function provisioned(options: { policy?: 'never' | 'reset' | 'migrate'; registry?: DeviceRegistry } = {}): Promise<string> {
  const registry = options.registry ?? t.registry;
  const name = `life-${++counter}`;
  await registry.enroll({ thingName: name, ...(options.policy ? { reprovisionPolicy: options.policy } : {}) });
  await registry.assign({ thingName: name, expectedStatus: 'unprovisioned', region: 'eu-central-1', requestTs: t.clock.now, ticketId: `t-${name}-1`, ticketExpiresAt: t.clock.now + 900_000 });
  await registry.beginProvisioning({ thingName: name, region: 'eu-central-1', ticketId: `t-${name}-1`, certificateId: CERT_A, maxAttempts: 3 });
  expect(await registry.confirm(name, CERT_A, 'eu-central-1')).toBe(true);
  return name;
}

/** The move's own assignment and hook write in `region`, as the bootstrap and the hook make them. */
async function moveProvisioned(name: string, region: string, certificateId = CERT_B): Promise<void> {
  await t.registry.assign({ thingName: name, expectedStatus: 'moving', region, requestTs: t.clock.now + 10, ticketId: `t-${name}-m`, ticketExpiresAt: t.clock.now + 900_000 });
  const hook = await t.registry.beginProvisioning({ thingName: name, region, ticketId: `t-${name}-m`, certificateId, maxAttempts: 3 });
  expect(hook).toMatchObject({ allowed: true, repeated: false });
}

describe('reprovisioning policy', () => {
  it('is set at enrolment and by setPolicy, and counts in the definition only when enrolment names it', async () => {
    // Prepare
    await t.registry.enroll({ thingName: 'policy-1', reprovisionPolicy: 'reset' });

    // Act
    const changed = await t.registry.setPolicy('policy-1', 'never');

    // Assess
    expect(changed.reprovision_policy).toBe('never');
    await expect(t.registry.enroll({ thingName: 'policy-1' })).resolves.toBe('unchanged');
    await expect(t.registry.enroll({ thingName: 'policy-1', reprovisionPolicy: 'migrate' })).rejects.toThrow(ConditionFailed);
  });

  it('refuses an unknown thing, writing nothing', async () => {
    await expect(t.registry.setPolicy('nobody-at-all', 'reset')).rejects.toMatchObject({ name: 'LifecycleRefused', reason: 'unknown-thing' });
    expect(await t.registry.get('nobody-at-all')).toBeUndefined();
  });

  it('refuses never while a move is in flight', async () => {
    const name = await provisioned();
    await t.registry.requestMove({ thingName: name, to: 'us-east-1', reason: 'test', moveId: 'm-1' });
    await expect(t.registry.setPolicy(name, 'never')).rejects.toMatchObject({ reason: 'move-in-flight' });
    expect((await t.registry.get(name))?.reprovision_policy).toBeUndefined();
  });
});

describe('requestMove', () => {
  it('marks a provisioned device moving, keeping the region and certificate it runs on', async () => {
    // Prepare
    const name = await provisioned();

    // Act
    const { outcome, record } = await t.registry.requestMove({ thingName: name, to: 'us-east-1', reason: 'drain eu', moveId: 'm-10' });

    // Assess
    expect(outcome).toBe('requested');
    expect(record).toMatchObject({
      prov_status: 'moving',
      move_to: 'us-east-1',
      move_reason: 'drain eu',
      move_id: 'm-10',
      aws_region: 'eu-central-1',
      certificate_id: CERT_A,
      move_requested_at: new Date(t.clock.now).toISOString(),
    });
    expect(record.ticket_id).toBeUndefined();
  });

  it('is idempotent: the same request, or the same target again, answers unchanged', async () => {
    const name = await provisioned();
    await t.registry.requestMove({ thingName: name, to: 'nearest', reason: 'r', moveId: 'm-20' });
    const again = await t.registry.requestMove({ thingName: name, to: 'nearest', reason: 'r', moveId: 'm-20' });
    const rerun = await t.registry.requestMove({ thingName: name, to: 'nearest', reason: 'r', moveId: 'm-21' });
    expect([again.outcome, rerun.outcome]).toEqual(['unchanged', 'unchanged']);
    expect(rerun.record.move_id).toBe('m-20');
  });

  it.each([
    ['a second move to another target', 'move-in-flight'],
    ['a policy never device', 'policy-never'],
    ['a blocked device', 'blocked'],
    ['a device that is not provisioned', 'not-provisioned'],
    ['a move to the region it is in', 'same-region'],
    ['a device that is rotating', 'rotation-in-flight'],
    ['an unknown thing', 'unknown-thing'],
  ])('refuses %s, changing nothing', async (what, reason) => {
    // Prepare
    let name: string;
    let to = 'us-east-1';
    if (what.startsWith('a second move')) {
      name = await provisioned();
      await t.registry.requestMove({ thingName: name, to: 'ap-northeast-1', reason: 'first', moveId: 'm-first' });
    } else if (what.includes('never')) {
      name = await provisioned({ policy: 'never' });
    } else if (what.includes('blocked')) {
      name = await provisioned();
      await t.registry.block(name, 'stolen');
    } else if (what.includes('not provisioned')) {
      name = `life-${++counter}`;
      await t.registry.enroll({ thingName: name });
    } else if (what.includes('region it is in')) {
      name = await provisioned();
      to = 'eu-central-1';
    } else if (what.includes('rotating')) {
      name = await provisioned();
      await t.registry.beginRotation({ thingName: name, region: 'eu-central-1', currentCertificateId: CERT_A, certificateId: CERT_B, maxAttempts: 3 });
    } else {
      name = 'never-enrolled-device';
    }
    const before = await t.registry.get(name);

    // Act
    const move = t.registry.requestMove({ thingName: name, to, reason: 'second', moveId: 'm-second' });

    // Assess
    await expect(move).rejects.toThrow(LifecycleRefused);
    await expect(move).rejects.toMatchObject({ reason });
    expect(await t.registry.get(name)).toEqual(before);
  });

  it('follows the deployment default when the record names no policy', async () => {
    const strict = new DeviceRegistry({ client: t.client, tableName: t.tableName, now: () => t.clock.now, lifecycle: { defaultPolicy: 'never' } });
    const plain = await provisioned({ registry: strict });
    const allowed = await provisioned({ registry: strict, policy: 'reset' });
    await expect(strict.requestMove({ thingName: plain, to: 'us-east-1', reason: 'x', moveId: 'm-d1' })).rejects.toMatchObject({ reason: 'policy-never' });
    await expect(strict.requestMove({ thingName: allowed, to: 'us-east-1', reason: 'x', moveId: 'm-d2' })).resolves.toMatchObject({ outcome: 'requested' });
  });
});

describe('a move through the bootstrap, the hook and the confirmation', () => {
  it('assigns the move region beside the one the device runs on, lets one certificate through, and completes', async () => {
    // Prepare
    const name = await provisioned();
    await t.registry.requestMove({ thingName: name, to: 'us-east-1', reason: 'closer', moveId: 'm-30' });

    // Act
    const assigned = await t.registry.assign({ thingName: name, expectedStatus: 'moving', region: 'us-east-1', requestTs: t.clock.now + 10, ticketId: 't-m30', ticketExpiresAt: t.clock.now + 900_000, placement: 'moved' });
    const hook = await t.registry.beginProvisioning({ thingName: name, region: 'us-east-1', ticketId: 't-m30', certificateId: CERT_B, maxAttempts: 3 });
    const repeated = await t.registry.beginProvisioning({ thingName: name, region: 'us-east-1', ticketId: 't-m30', certificateId: CERT_B, maxAttempts: 3 });
    const other = await t.registry.beginProvisioning({ thingName: name, region: 'us-east-1', ticketId: 't-m30', certificateId: CERT_C, maxAttempts: 3 });
    const oldCertificate = await t.registry.confirmation(name, CERT_A, 'eu-central-1');
    const wrongRegion = await t.registry.confirmation(name, CERT_B, 'eu-central-1');
    const confirmation = await t.registry.confirmation(name, CERT_B, 'us-east-1');

    // Assess
    expect(assigned).toMatchObject({ prov_status: 'moving', aws_region: 'eu-central-1', move_region: 'us-east-1', ticket_id: 't-m30', placement: 'moved' });
    expect(hook).toMatchObject({ allowed: true, repeated: false });
    expect(hook.allowed && hook.record).toMatchObject({ move_certificate_id: CERT_B, certificate_id: CERT_A });
    expect(repeated).toMatchObject({ allowed: true, repeated: true });
    expect(other).toEqual({ allowed: false, reason: 'ticket already used for another certificate' });
    expect(oldCertificate.kind).toBe('refused');
    expect(wrongRegion.kind).toBe('refused');
    expect(confirmation.kind).toBe('move');

    // Act: the caller completes it.
    t.clock.now += 60_000;
    const record = confirmation.kind === 'move' ? confirmation.record : undefined;
    if (!record) throw new Error('no move to complete');
    const done = await t.registry.completeMove(record, { certificateId: CERT_B, region: 'us-east-1' });
    const again = t.registry.completeMove(record, { certificateId: CERT_B, region: 'us-east-1' });

    // Assess
    expect(done).toMatchObject({ prov_status: 'provisioned', aws_region: 'us-east-1', certificate_id: CERT_B, cleanup_pending: ['keep/us-east-1/' + CERT_B, 'retire/eu-central-1'] });
    expect(done.move_id).toBeUndefined();
    expect(done.move_region).toBeUndefined();
    expect(done.history).toEqual([
      { kind: 'move', from: 'eu-central-1', to: 'us-east-1', at: new Date(t.clock.now - 60_000).toISOString(), why: 'closer', completedAt: new Date(t.clock.now).toISOString(), fromCertificate: CERT_A, toCertificate: CERT_B },
    ]);
    await expect(again).rejects.toThrow(ConditionFailed);
    expect(await t.registry.confirmation(name, CERT_B, 'us-east-1')).toMatchObject({ kind: 'repeated' });
    expect(await t.registry.cleanupDone(name, ['retire/eu-central-1'])).toMatchObject({ cleanup_pending: ['keep/us-east-1/' + CERT_B] });
  });

  it('keeps a move the hook let through in its region, and refuses another region', async () => {
    const name = await provisioned();
    await t.registry.requestMove({ thingName: name, to: 'nearest', reason: 'n', moveId: 'm-40' });
    await moveProvisioned(name, 'us-east-1');
    await expect(
      t.registry.assign({ thingName: name, expectedStatus: 'moving', region: 'ap-northeast-1', requestTs: t.clock.now + 20, ticketId: 't-x', ticketExpiresAt: t.clock.now + 900_000 }),
    ).rejects.toThrow(ConditionFailed);
    expect((await t.registry.get(name))?.move_region).toBe('us-east-1');
  });

  it('denies the move certificate in the old region and a stale ticket', async () => {
    const name = await provisioned();
    await t.registry.requestMove({ thingName: name, to: 'us-east-1', reason: 'n', moveId: 'm-41' });
    await t.registry.assign({ thingName: name, expectedStatus: 'moving', region: 'us-east-1', requestTs: t.clock.now + 20, ticketId: 't-41', ticketExpiresAt: t.clock.now + 900_000 });
    expect(await t.registry.beginProvisioning({ thingName: name, region: 'eu-central-1', ticketId: 't-41', certificateId: CERT_B, maxAttempts: 3 })).toEqual({
      allowed: false,
      reason: 'the move is assigned to another region',
    });
    expect(await t.registry.beginProvisioning({ thingName: name, region: 'us-east-1', ticketId: `t-${name}-1`, certificateId: CERT_B, maxAttempts: 3 })).toEqual({
      allowed: false,
      reason: 'ticket is not the live assignment',
    });
  });

  it('keeps at most historyLimit entries, newest last', async () => {
    const short = new DeviceRegistry({ client: t.client, tableName: t.tableName, now: () => t.clock.now, lifecycle: { historyLimit: 2 } });
    const name = await provisioned({ registry: short });
    const regions = ['us-east-1', 'ap-northeast-1', 'sa-east-1'];
    const certificates = [CERT_B, CERT_C, 'd'.repeat(64)];
    for (const [i, region] of regions.entries()) {
      await short.requestMove({ thingName: name, to: region, reason: `hop ${i}`, moveId: `m-h${i}` });
      await short.assign({ thingName: name, expectedStatus: 'moving', region, requestTs: t.clock.now + 100 + i, ticketId: `t-h${i}`, ticketExpiresAt: t.clock.now + 900_000 });
      await short.beginProvisioning({ thingName: name, region, ticketId: `t-h${i}`, certificateId: certificates[i] ?? '', maxAttempts: 3 });
      const confirmation = await short.confirmation(name, certificates[i] ?? '', region);
      if (confirmation.kind !== 'move') throw new Error(`hop ${i}: ${confirmation.kind}`);
      await short.completeMove(confirmation.record, { certificateId: certificates[i] ?? '', region });
    }
    const history = (await short.get(name))?.history ?? [];
    expect(history.map((h) => h.why)).toEqual(['hop 1', 'hop 2']);
  });

  it('reset clears a move in flight', async () => {
    const name = await provisioned();
    await t.registry.requestMove({ thingName: name, to: 'us-east-1', reason: 'n', moveId: 'm-50' });
    const record = await t.registry.reset(name, 'board replaced');
    expect(record.prov_status).toBe('unprovisioned');
    expect(record.move_id).toBeUndefined();
  });
});

describe('rotation', () => {
  it('allows a new certificate over the current one, once per certificate, and completes', async () => {
    // Prepare
    const name = await provisioned();
    const requested = await t.registry.requestRotation(name, 'r-1');
    const second = await t.registry.requestRotation(name, 'r-2');

    // Act
    const allowed = await t.registry.beginRotation({ thingName: name, region: 'eu-central-1', currentCertificateId: CERT_A, certificateId: CERT_B, maxAttempts: 2 });
    const repeated = await t.registry.beginRotation({ thingName: name, region: 'eu-central-1', currentCertificateId: CERT_A, certificateId: CERT_B, maxAttempts: 2 });
    const confirmation = await t.registry.confirmation(name, CERT_B, 'eu-central-1');
    if (confirmation.kind !== 'rotation') throw new Error(confirmation.kind);
    const done = await t.registry.completeRotation(confirmation.record, { certificateId: CERT_B, region: 'eu-central-1' });

    // Assess
    expect(requested.outcome).toBe('requested');
    expect(second).toMatchObject({ outcome: 'unchanged', record: { rotation_id: 'r-1' } });
    expect(allowed).toMatchObject({ allowed: true, repeated: false });
    expect(repeated).toMatchObject({ allowed: true, repeated: true });
    expect(done).toMatchObject({ prov_status: 'provisioned', certificate_id: CERT_B, cleanup_pending: ['keep/eu-central-1/' + CERT_B] });
    expect(done.rotation_id).toBeUndefined();
    expect(done.rotation_certificate_id).toBeUndefined();
    expect(done.history?.[0]).toMatchObject({ kind: 'rotation', from: 'eu-central-1', to: 'eu-central-1', fromCertificate: CERT_A, toCertificate: CERT_B, why: 'rotation asked by an operator' });
  });

  it.each([
    ["another certificate than the thing's current one (the claim certificate, another device's)", { currentCertificateId: CERT_C }, "the request did not come over the thing's current certificate"],
    ['another region', { region: 'us-east-1' }, 'the thing is in another region'],
    ['an unknown thing', { thingName: 'nobody-rotates' }, 'unknown thing'],
  ])('denies a rotation over %s, changing nothing', async (_what, over, reason) => {
    const name = await provisioned();
    const before = await t.registry.get(name);
    const outcome = await t.registry.beginRotation({ thingName: name, region: 'eu-central-1', currentCertificateId: CERT_A, certificateId: CERT_B, maxAttempts: 2, ...over });
    expect(outcome).toEqual({ allowed: false, reason });
    expect(await t.registry.get(name)).toEqual(before);
  });

  it('denies a moving or blocked device and stops at the attempt limit', async () => {
    const moving = await provisioned();
    await t.registry.requestMove({ thingName: moving, to: 'us-east-1', reason: 'x', moveId: 'm-60' });
    expect(await t.registry.beginRotation({ thingName: moving, region: 'eu-central-1', currentCertificateId: CERT_A, certificateId: CERT_B, maxAttempts: 2 })).toEqual({ allowed: false, reason: 'status is moving' });
    const limited = await provisioned();
    await t.registry.beginRotation({ thingName: limited, region: 'eu-central-1', currentCertificateId: CERT_A, certificateId: CERT_B, maxAttempts: 1 });
    expect(await t.registry.beginRotation({ thingName: limited, region: 'eu-central-1', currentCertificateId: CERT_A, certificateId: CERT_C, maxAttempts: 1 })).toEqual({
      allowed: false,
      reason: 'rotation retry limit reached',
    });
    await expect(t.registry.requestRotation(moving, 'r-9')).rejects.toMatchObject({ reason: 'move-in-flight' });
  });
});
