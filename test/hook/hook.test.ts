import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ASSIGNED_AT_PARAM,
  hookResponseSchema,
  REGION_PARAM,
  THING_NAME_PARAM,
  TICKET_PARAM,
} from '@global-iot/core/provisioning-params.js';
import { claimClientId } from '@global-iot/core/claim-client-id.js';
import { TICKET_PREFIX } from '@global-iot/core/ticket.js';
import { createHookHandler } from '@global-iot/pre-provisioning-hook/app.js';
import { decideProvisioning } from '@global-iot/pre-provisioning-hook/hook.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { CLAIM_PREFIX, certificateId, hookEvent, HookWorld, readFixture, TICKET_KID, TICKET_TTL_SECONDS, ticketKeyPair } from './helpers.js';

const REGION_A = 'eu-central-1';
const REGION_B = 'us-east-1';

let t: TestRegistry;
let w: HookWorld;
beforeAll(async () => {
  t = await startTestRegistry();
  w = new HookWorld(t);
});
afterAll(async () => {
  await t.close();
});

describe('allow', () => {
  it('lets the first certificate of an assigned device through, recording it in one write', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const cert = certificateId();
    const assigned = await w.record(device.thingName);
    // Act
    const response = await decideProvisioning(hookEvent({ ...device, region: REGION_A, certificateId: cert }), w.deps());
    // Assess
    expect(response).toEqual({
      allowProvisioning: true,
      parameterOverrides: { [REGION_PARAM]: REGION_A, [ASSIGNED_AT_PARAM]: assigned?.assigned_at },
    });
    expect(hookResponseSchema.safeParse(response).success).toBe(true);
    const record = await w.record(device.thingName);
    expect(record).toMatchObject({
      prov_status: 'provisioning',
      certificate_id: cert,
      aws_region: REGION_A,
      hook_ticket_id: device.claims.jti,
      provision_attempts: 1,
      provisioning_at: new Date(t.clock.now).toISOString(),
    });
  });

  it('logs one structured line per decision, without the ticket', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const cert = certificateId();
    const before = w.logs.length;
    // Act
    await decideProvisioning(hookEvent({ ...device, region: REGION_A, certificateId: cert }), w.deps());
    // Assess
    expect(w.logs.length).toBe(before + 1);
    const entry = w.lastLog();
    expect(entry).toMatchObject({
      message: 'provisioning-decision',
      thing: device.thingName,
      outcome: 'allow',
      region: REGION_A,
      certificateId: cert,
      ticketId: device.claims.jti,
      reason: 'allowed',
    });
    expect(typeof entry?.durationMs).toBe('number');
    expect(w.recorded.records.at(-1)?.dimensions).toEqual([{ Outcome: 'allow' }, { Reason: 'allowed' }]);
    const ticketBody = device.ticket.slice(TICKET_PREFIX.length).split('.');
    expect(JSON.stringify(w.logs)).not.toContain(ticketBody[0]);
    expect(JSON.stringify(w.logs)).not.toContain(ticketBody[1]);
  });

  it('gives the same event repeated the same answer', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const event = hookEvent({ ...device, region: REGION_A, certificateId: certificateId() });
    // Act
    const first = await decideProvisioning(event, w.deps());
    const second = await decideProvisioning(event, w.deps());
    // Assess
    expect(first.allowProvisioning).toBe(true);
    expect(second).toEqual(first);
    expect(w.lastLog()?.reason).toBe('repeated');
    expect((await w.record(device.thingName))?.provision_attempts).toBe(1);
  });

  it('gives concurrent duplicates of one event (an MQTT redelivery) the same answer', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const event = hookEvent({ ...device, region: REGION_A, certificateId: certificateId() });
    // Act
    const answers = await Promise.all([decideProvisioning(event, w.deps()), decideProvisioning(event, w.deps())]);
    // Assess
    expect(answers.map((a) => a.allowProvisioning)).toEqual([true, true]);
    expect(answers[0]).toEqual(answers[1]);
    expect((await w.record(device.thingName))?.provision_attempts).toBe(1);
  });

  it('allows a retry with a fresh ticket up to the configured number of attempts, then denies', async () => {
    // Prepare
    const deps = w.deps({ settings: { maxProvisionAttempts: 3, claimClientIdPrefix: CLAIM_PREFIX, legacyClaimClientIds: false, rotationTemplateName: 'GlobalFleetRotation' } });
    const device = await w.assignedDevice(REGION_A);
    const allowed: boolean[] = [];
    let ticket = device.ticket;
    // Act: each time RegisterThing fails after the hook (or the device loses its key), the device
    // goes back to the bootstrap, which keeps it in its region and issues a new ticket.
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt > 0) ticket = (await w.assign(device.thingName, REGION_A, 'provisioning')).ticket;
      const event = hookEvent({ thingName: device.thingName, ticket, region: REGION_A, certificateId: certificateId() });
      allowed.push((await decideProvisioning(event, deps)).allowProvisioning);
    }
    // Assess
    expect(allowed).toEqual([true, true, true, false]);
    expect(w.lastLog()?.reason).toBe('registry: retry limit reached');
    expect((await w.record(device.thingName))?.provision_attempts).toBe(3);
  });

  it('accepts the bare thing name as client id during a legacy migration window, and records it', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const event = hookEvent({ ...device, region: REGION_A, certificateId: certificateId(), clientId: device.thingName });
    const legacy = w.deps({ settings: { maxProvisionAttempts: 3, claimClientIdPrefix: CLAIM_PREFIX, legacyClaimClientIds: true, rotationTemplateName: 'GlobalFleetRotation' } });
    // Act
    const response = await decideProvisioning(event, legacy);
    // Assess
    expect(response.allowProvisioning).toBe(true);
    expect(w.lastLog()).toMatchObject({ outcome: 'allow', legacyClientId: true });
  });

  it('passes an event shaped exactly like AWS documents it through the Lambda-style handler', async () => {
    // Prepare: the fixture's device, assigned to the fixture template's region.
    const fixture = readFixture('aws-pre-provisioning-hook-event.json') as {
      clientId: string;
      certificateId: string;
      parameters: Record<string, string>;
    };
    const thingName = fixture.clientId;
    await t.registry.enroll({ thingName });
    const { ticket } = await w.assign(thingName, 'us-east-1');
    // The claim session's client id: AWS's example uses the thing name, which this hook refuses.
    const event = { ...fixture, clientId: claimClientId(CLAIM_PREFIX, thingName), parameters: { ...fixture.parameters, [TICKET_PARAM]: ticket } };
    const handler = createHookHandler(w.deps());
    // Act
    const response = await handler(event);
    // Assess
    expect(response).toMatchObject({ allowProvisioning: true, parameterOverrides: { [REGION_PARAM]: 'us-east-1' } });
    expect((await w.record(thingName))?.certificate_id).toBe(fixture.certificateId);
  });
});

describe('deny', () => {
  /** Asserts a deny with the given reason that left the record as it was. */
  async function expectDenied(event: unknown, reason: string, thingName?: string, deps = w.deps()): Promise<void> {
    const before = thingName ? await w.record(thingName) : undefined;
    const response = await decideProvisioning(event, deps);
    expect(response).toEqual({ allowProvisioning: false, parameterOverrides: {} });
    expect(w.lastLog()).toMatchObject({ outcome: 'deny', reason });
    // Counted as a deny, and as a deny for this very reason.
    expect(w.recorded.records.at(-1)?.dimensions).toEqual([{ Outcome: 'deny' }, { Reason: reason }]);
    if (thingName) expect(await w.record(thingName)).toEqual(before);
  }

  const valid = () => hookEvent({ thingName: 'shape-device', ticket: 't1.x.y', region: REGION_A, certificateId: 'a'.repeat(64) });
  const malformed: [string, unknown][] = [
    ['null', null],
    ['a string', 'RegisterThing'],
    ['an array', [valid()]],
    ['an empty object', {}],
    ['no certificateId', { ...valid(), certificateId: undefined }],
    ['a certificateId that is not 64 hex digits', { ...valid(), certificateId: 'z'.repeat(64) }],
    ['no claimCertificateId', { ...valid(), claimCertificateId: undefined }],
    ['no certificatePem', { ...valid(), certificatePem: '' }],
    ['a templateArn of another service', { ...valid(), templateArn: 'arn:aws:s3:::bucket/provisioningtemplate/x' }],
    ['a templateArn with a bad region', { ...valid(), templateArn: 'arn:aws:iot:Mars-1:123456789012:provisioningtemplate/T' }],
    ['a numeric clientId', { ...valid(), clientId: 42 }],
    ['no parameters', { ...valid(), parameters: undefined }],
    ['a non-string parameter', { ...valid(), parameters: { [THING_NAME_PARAM]: 'shape-device', [TICKET_PARAM]: 7 } }],
  ];
  it.each(malformed)('denies a malformed event: %s', async (_name, event) => {
    await expectDenied(event, 'malformed event');
  });

  it('denies missing or invalid parameters', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const base = { region: REGION_A, certificateId: certificateId() };
    // Act / Assess
    await expectDenied(
      hookEvent({ ...device, ...base, parameters: { [TICKET_PARAM]: device.ticket } }),
      'missing thing name parameter',
      device.thingName,
    );
    await expectDenied(
      hookEvent({ ...device, ...base, clientId: 'bad name', parameters: { [THING_NAME_PARAM]: 'bad name', [TICKET_PARAM]: device.ticket } }),
      'invalid thing name parameter',
      device.thingName,
    );
    await expectDenied(hookEvent({ thingName: device.thingName, ...base }), 'missing ticket parameter', device.thingName);
  });

  it.each([
    ['another client id', () => 'someone-else'],
    ['the bare thing name (no legacy window)', (thing: string) => thing],
    ["another thing's claim client id", () => claimClientId(CLAIM_PREFIX, 'other-device')],
    ['the prefix in another case', (thing: string) => `PROV-${thing}`],
  ])('denies a RegisterThing from %s', async (_name, clientIdOf) => {
    const device = await w.assignedDevice(REGION_A);
    await expectDenied(
      hookEvent({ ...device, region: REGION_A, certificateId: certificateId(), clientId: clientIdOf(device.thingName) }),
      'client id is not the claim client id of the thing',
      device.thingName,
    );
  });

  it('denies invalid tickets: garbage, tampered, foreign key, unknown key, expired', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const event = (ticket: string) => hookEvent({ thingName: device.thingName, ticket, region: REGION_A, certificateId: certificateId() });
    const [payload = '', signature = ''] = device.ticket.slice(TICKET_PREFIX.length).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const tampered = `${TICKET_PREFIX}${Buffer.from(JSON.stringify({ ...claims, exp: (claims.exp as number) + 86_400 })).toString('base64url')}.${signature}`;
    const sameKidOtherKey = await w.issue(device.thingName, REGION_A, ticketKeyPair(TICKET_KID).signer);
    const unknownKid = await w.issue(device.thingName, REGION_A, ticketKeyPair('retired-key').signer);
    const afterExpiry = () => t.clock.now + TICKET_TTL_SECONDS * 1000;
    // Act / Assess
    await expectDenied(event('not-a-ticket'), 'invalid ticket: malformed ticket', device.thingName);
    await expectDenied(event(tampered), 'invalid ticket: bad ticket signature', device.thingName);
    await expectDenied(event(sameKidOtherKey.ticket), 'invalid ticket: bad ticket signature', device.thingName);
    await expectDenied(event(unknownKid.ticket), 'invalid ticket: unknown ticket key', device.thingName);
    await expectDenied(event(device.ticket), 'invalid ticket: ticket expired', device.thingName, w.deps({ now: afterExpiry }));
  });

  it('denies a ticket from region A presented in region B', async () => {
    const device = await w.assignedDevice(REGION_A);
    await expectDenied(
      hookEvent({ ...device, region: REGION_B, certificateId: certificateId() }),
      'ticket names another region',
      device.thingName,
    );
  });

  it('denies a valid ticket for region B when the registry assigned the device to region A', async () => {
    // Prepare: a ticket the registry never recorded (say, from an assignment that lost its race).
    const device = await w.assignedDevice(REGION_A);
    const stray = await w.issue(device.thingName, REGION_B);
    // Act / Assess
    await expectDenied(
      hookEvent({ thingName: device.thingName, ticket: stray.ticket, region: REGION_B, certificateId: certificateId() }),
      'registry: assigned to another region',
      device.thingName,
    );
  });

  it('denies a ticket naming another thing', async () => {
    const device = await w.assignedDevice(REGION_A);
    const other = await w.assignedDevice(REGION_A);
    await expectDenied(
      hookEvent({ thingName: device.thingName, ticket: other.ticket, region: REGION_A, certificateId: certificateId() }),
      'ticket names another thing',
      device.thingName,
    );
  });

  it('denies a ticket that a newer assignment replaced', async () => {
    const device = await w.assignedDevice(REGION_A);
    await w.assign(device.thingName, REGION_A, 'assigned');
    await expectDenied(
      hookEvent({ ...device, region: REGION_A, certificateId: certificateId() }),
      'registry: ticket is not the live assignment',
      device.thingName,
    );
  });

  it('denies an unknown thing and one never assigned', async () => {
    // Prepare
    const unknown = w.newThingName('never-enrolled');
    const unknownTicket = await w.issue(unknown, REGION_A);
    const unassigned = await w.enrolled();
    const unassignedTicket = await w.issue(unassigned, REGION_A);
    // Act / Assess
    await expectDenied(
      hookEvent({ thingName: unknown, ticket: unknownTicket.ticket, region: REGION_A, certificateId: certificateId() }),
      'registry: unknown thing',
    );
    expect(await w.record(unknown)).toBeUndefined();
    await expectDenied(
      hookEvent({ thingName: unassigned, ticket: unassignedTicket.ticket, region: REGION_A, certificateId: certificateId() }),
      'registry: status is unprovisioned',
      unassigned,
    );
  });

  it('denies a blocked device', async () => {
    const device = await w.assignedDevice(REGION_A);
    await t.registry.block(device.thingName, 'reported stolen');
    await expectDenied(
      hookEvent({ ...device, region: REGION_A, certificateId: certificateId() }),
      'registry: status is blocked',
      device.thingName,
    );
  });

  it('denies a second certificate with the same ticket: a retry needs a fresh ticket', async () => {
    const device = await w.assignedDevice(REGION_A);
    await decideProvisioning(hookEvent({ ...device, region: REGION_A, certificateId: certificateId() }), w.deps());
    await expectDenied(
      hookEvent({ ...device, region: REGION_A, certificateId: certificateId() }),
      'registry: ticket already used for another certificate',
      device.thingName,
    );
  });

  it('gives a denied event repeated the same answer', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const event = hookEvent({ ...device, region: REGION_B, certificateId: certificateId() });
    // Act
    const first = await decideProvisioning(event, w.deps());
    const second = await decideProvisioning(event, w.deps());
    // Assess
    expect(first.allowProvisioning).toBe(false);
    expect(second).toEqual(first);
  });
});

describe('races', () => {
  it('lets exactly one of two certificates racing for one device through', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION_A);
    const certs = [certificateId(), certificateId()];
    // Act
    const answers = await Promise.all(
      certs.map((cert) => decideProvisioning(hookEvent({ ...device, region: REGION_A, certificateId: cert }), w.deps())),
    );
    // Assess
    const winners = certs.filter((_, i) => answers[i]?.allowProvisioning);
    expect(winners).toHaveLength(1);
    expect((await w.record(device.thingName))?.certificate_id).toBe(winners[0]);
  });
});
