import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReservedThingName } from '@global-iot/core/claim-client-id.js';
import { ConditionFailed } from '@global-iot/core/errors.js';
import { bulkEnroll } from '@global-iot/core/registry/index.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t.close();
});

let counter = 0;
async function enrolled(): Promise<string> {
  const name = `reg-device-${++counter}`;
  await t.registry.enroll({ thingName: name });
  return name;
}

function assignment(thingName: string, overrides: Partial<Parameters<TestRegistry['registry']['assign']>[0]> = {}) {
  return {
    thingName,
    expectedStatus: 'unprovisioned' as const,
    region: 'eu-central-1',
    requestTs: t.clock.now,
    ticketId: `ticket-${thingName}-1`,
    ticketExpiresAt: t.clock.now + 900_000,
    ...overrides,
  };
}

describe('enroll', () => {
  it.each([
    ['starts with the claim client-id prefix', 'prov-sensor-1', /reserved for claim sessions/],
    ['is too long for a client id with the prefix', 'a'.repeat(124), /at most 123 characters/],
  ])('refuses a thing name that %s, and writes nothing', async (_name, thingName, message) => {
    // Act
    const enrol = t.registry.enroll({ thingName });

    // Assess
    await expect(enrol).rejects.toThrow(ReservedThingName);
    await expect(t.registry.enroll({ thingName })).rejects.toThrow(message);
    expect(await t.registry.get(thingName)).toBeUndefined();
  });

  it('refuses a reserved name in a bulk enrolment before writing any of it', async () => {
    // Act
    const bulk = bulkEnroll([{ thingName: 'bulk-ok-1' }, { thingName: 'prov-bulk-2' }], { client: t.client, tableName: t.tableName });

    // Assess
    await expect(bulk).rejects.toThrow(/enrolment 2: thing names starting with "prov-" are reserved/);
    expect(await t.registry.get('bulk-ok-1')).toBeUndefined();
  });

  it('creates an unprovisioned record with the sample attribute names', async () => {
    // Act
    const outcome = await t.registry.enroll({ thingName: 'enroll-1', attributes: { model: 'x' } });
    // Assess
    expect(outcome).toBe('created');
    const record = await t.registry.get('enroll-1');
    expect(record?.prov_status).toBe('unprovisioned');
    expect(record?.thing_name).toBe('enroll-1');
  });

  it('is idempotent for the same definition and refuses a different one without changing it', async () => {
    // Prepare
    await t.registry.enroll({ thingName: 'enroll-2', pinnedRegion: 'eu-west-1' });
    // Act / Assess
    await expect(t.registry.enroll({ thingName: 'enroll-2', pinnedRegion: 'eu-west-1' })).resolves.toBe('unchanged');
    await expect(t.registry.enroll({ thingName: 'enroll-2', pinnedRegion: 'us-east-1' })).rejects.toThrow(ConditionFailed);
    expect((await t.registry.get('enroll-2'))?.pinned_region).toBe('eu-west-1');
  });

  it('treats the same attributes in another order as the same definition', async () => {
    await t.registry.enroll({ thingName: 'enroll-3', attributes: { a: '1', b: '2' } });
    await expect(t.registry.enroll({ thingName: 'enroll-3', attributes: { b: '2', a: '1' } })).resolves.toBe('unchanged');
  });

  it('refuses invalid thing names', async () => {
    await expect(t.registry.enroll({ thingName: 'bad name!' })).rejects.toThrow(/thing name/);
  });
});

describe('assign', () => {
  it('moves unprovisioned to assigned and records region, ticket and time', async () => {
    // Prepare
    const name = await enrolled();
    // Act
    const record = await t.registry.assign(assignment(name, { sourceIp: '203.0.113.9', country: 'DE' }));
    // Assess
    expect(record).toMatchObject({
      prov_status: 'assigned',
      aws_region: 'eu-central-1',
      ticket_id: `ticket-${name}-1`,
      last_request_ts: t.clock.now,
      source_ip: '203.0.113.9',
      country: 'DE',
      assign_attempts: 1,
    });
  });

  it('refuses a timestamp that is not newer than the last accepted one', async () => {
    // Prepare
    const name = await enrolled();
    await t.registry.assign(assignment(name));
    // Act / Assess
    await expect(t.registry.assign(assignment(name, { expectedStatus: 'assigned' }))).rejects.toThrow(ConditionFailed);
    await expect(
      t.registry.assign(assignment(name, { expectedStatus: 'assigned', requestTs: t.clock.now - 1 })),
    ).rejects.toThrow(ConditionFailed);
    const later = await t.registry.assign(
      assignment(name, { expectedStatus: 'assigned', requestTs: t.clock.now + 1, ticketId: 'ticket-2-aaaaaaaaaa' }),
    );
    expect(later.ticket_id).toBe('ticket-2-aaaaaaaaaa');
  });

  it('refuses an unknown thing and a stale expected status', async () => {
    await expect(t.registry.assign(assignment('never-enrolled'))).rejects.toThrow(ConditionFailed);
    const name = await enrolled();
    await expect(t.registry.assign(assignment(name, { expectedStatus: 'assigned' }))).rejects.toThrow(ConditionFailed);
    expect((await t.registry.get(name))?.prov_status).toBe('unprovisioned');
  });

  it('leaves exactly one assignment when many race', async () => {
    // Prepare
    const name = await enrolled();
    // Act
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        t.registry.assign(assignment(name, { requestTs: t.clock.now + i, ticketId: `race-ticket-${i}-xxxxxxxx` })),
      ),
    );
    // Assess
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const record = await t.registry.get(name);
    expect(won[0]?.status === 'fulfilled' && won[0].value.ticket_id).toBe(record?.ticket_id);
  });
});

describe('hook transition', () => {
  async function assigned(): Promise<string> {
    const name = await enrolled();
    await t.registry.assign(assignment(name));
    return name;
  }
  const attempt = (thingName: string, over: Partial<Parameters<TestRegistry['registry']['beginProvisioning']>[0]> = {}) => ({
    thingName,
    region: 'eu-central-1',
    ticketId: `ticket-${thingName}-1`,
    certificateId: 'a'.repeat(64),
    maxAttempts: 2,
    ...over,
  });

  it('allows the live ticket once per certificate and repeats the same answer', async () => {
    const name = await assigned();
    const first = await t.registry.beginProvisioning(attempt(name));
    expect(first).toMatchObject({ allowed: true, repeated: false });
    const again = await t.registry.beginProvisioning(attempt(name));
    expect(again).toMatchObject({ allowed: true, repeated: true });
    const other = await t.registry.beginProvisioning(attempt(name, { certificateId: 'b'.repeat(64) }));
    expect(other.allowed).toBe(false);
  });

  it('answers with a single write: the allowed call, and a repeated one (the refused write carries the record)', async () => {
    // Prepare: count the DynamoDB operations the registry sends.
    const sent: string[] = [];
    const name = await assigned();
    const other = await assigned();
    await t.registry.beginProvisioning(attempt(other));
    t.client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countOperations' },
    );
    try {
      // Act
      const allowed = await t.registry.beginProvisioning(attempt(name));
      const allowedOps = sent.splice(0);
      const repeated = await t.registry.beginProvisioning(attempt(other));
      const repeatedOps = sent.splice(0);

      // Assess
      expect(allowed).toMatchObject({ allowed: true, repeated: false });
      expect(allowedOps).toEqual(['UpdateItemCommand']);
      expect(repeated).toMatchObject({ allowed: true, repeated: true });
      expect(repeatedOps).toEqual(['UpdateItemCommand']);
    } finally {
      t.client.middlewareStack.remove('countOperations');
    }
  });

  it('denies another region, another ticket and an unknown thing', async () => {
    const name = await assigned();
    expect((await t.registry.beginProvisioning(attempt(name, { region: 'us-east-1' }))).allowed).toBe(false);
    expect((await t.registry.beginProvisioning(attempt(name, { ticketId: 'old-ticket-xxxxxxxx' }))).allowed).toBe(false);
    expect((await t.registry.beginProvisioning(attempt('nobody-here'))).allowed).toBe(false);
    expect((await t.registry.get(name))?.prov_status).toBe('assigned');
  });

  it('lets exactly one of two racing certificates through', async () => {
    const name = await assigned();
    const results = await Promise.all([
      t.registry.beginProvisioning(attempt(name, { certificateId: 'c'.repeat(64) })),
      t.registry.beginProvisioning(attempt(name, { certificateId: 'd'.repeat(64) })),
    ]);
    expect(results.filter((r) => r.allowed)).toHaveLength(1);
  });

  it('allows a retry with a fresh ticket up to the limit, then denies', async () => {
    const name = await assigned();
    expect((await t.registry.beginProvisioning(attempt(name))).allowed).toBe(true);
    // The device lost its credentials; it bootstraps again and gets a new ticket for the same region.
    await t.registry.assign(
      assignment(name, { expectedStatus: 'provisioning', requestTs: t.clock.now + 5, ticketId: `ticket-${name}-2` }),
    );
    const retry = await t.registry.beginProvisioning(attempt(name, { ticketId: `ticket-${name}-2`, certificateId: 'e'.repeat(64) }));
    expect(retry.allowed).toBe(true);
    await t.registry.assign(
      assignment(name, { expectedStatus: 'provisioning', requestTs: t.clock.now + 6, ticketId: `ticket-${name}-3` }),
    );
    const third = await t.registry.beginProvisioning(attempt(name, { ticketId: `ticket-${name}-3`, certificateId: 'f'.repeat(64) }));
    expect(third).toEqual({ allowed: false, reason: 'retry limit reached' });
  });

  it('refuses another certificate\'s confirmation (the claim certificate\'s connection) with one write and no read', async () => {
    // Prepare
    const sent: string[] = [];
    const name = await assigned();
    await t.registry.beginProvisioning(attempt(name));
    t.client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countConfirmOperations' },
    );
    try {
      // Act
      const claim = await t.registry.confirm(name, 'c'.repeat(64), 'eu-central-1');
      const claimOps = sent.splice(0);
      const device = await t.registry.confirm(name, 'a'.repeat(64), 'eu-central-1');
      const repeat = await t.registry.confirm(name, 'a'.repeat(64), 'eu-central-1');
      const repeatOps = sent.splice(0);

      // Assess
      expect(claim).toBe(false);
      expect(claimOps).toEqual(['UpdateItemCommand']);
      expect([device, repeat]).toEqual([true, true]);
      expect(repeatOps).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
    } finally {
      t.client.middlewareStack.remove('countConfirmOperations');
    }
  });

  it('confirms only the allowed certificate, then denies everything', async () => {
    const name = await assigned();
    await t.registry.beginProvisioning(attempt(name));
    expect(await t.registry.confirm(name, 'z'.repeat(64), 'eu-central-1')).toBe(false);
    expect(await t.registry.confirm(name, 'a'.repeat(64), 'eu-central-1')).toBe(true);
    expect(await t.registry.confirm(name, 'a'.repeat(64), 'eu-central-1')).toBe(true);
    const record = await t.registry.get(name);
    expect(record?.prov_status).toBe('provisioned');
    expect(record?.prov_datetime).toBeDefined();
    expect((await t.registry.beginProvisioning(attempt(name))).allowed).toBe(false);
  });
});

describe('operator transitions', () => {
  it('reset clears the assignment but keeps replay protection', async () => {
    const name = await enrolled();
    await t.registry.assign(assignment(name));
    const record = await t.registry.reset(name, 'device replaced');
    expect(record.prov_status).toBe('unprovisioned');
    expect(record.aws_region).toBeUndefined();
    expect(record.last_request_ts).toBe(t.clock.now);
    expect(record.status_reason).toBe('device replaced');
  });

  it('refuses to reset a blocked device, leaving the block in place', async () => {
    const name = await enrolled();
    await t.registry.block(name, 'stolen');
    await expect(t.registry.reset(name, 'oops')).rejects.toThrow(ConditionFailed);
    expect((await t.registry.get(name))?.prov_status).toBe('blocked');
  });

  it('block and unblock', async () => {
    const name = await enrolled();
    expect((await t.registry.block(name, 'stolen')).prov_status).toBe('blocked');
    await expect(t.registry.assign(assignment(name))).rejects.toThrow(ConditionFailed);
    expect((await t.registry.unblock(name, 'recovered')).prov_status).toBe('unprovisioned');
    await expect(t.registry.unblock(name, 'again')).rejects.toThrow(ConditionFailed);
    await expect(t.registry.block('missing-device', 'x')).rejects.toThrow(ConditionFailed);
  });

  it('scan filters by status and skips control items; drain state round-trips', async () => {
    await t.registry.setRegionDraining('ap-south-1', true);
    await t.registry.setRegionDraining('eu-west-1', true);
    await t.registry.setRegionDraining('eu-west-1', false);
    expect(await t.registry.getDrainingRegions()).toEqual(['ap-south-1']);
    const blocked: string[] = [];
    for await (const r of t.registry.scan({ status: 'blocked', pageSize: 3 })) blocked.push(r.thing_name);
    const all: string[] = [];
    for await (const r of t.registry.scan({ pageSize: 7 })) all.push(r.thing_name);
    expect(all.every((n) => !n.startsWith('#'))).toBe(true);
    expect(all.length).toBeGreaterThan(10);
    expect(blocked.every((n) => all.includes(n))).toBe(true);
  });
});
