import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmissionTable } from '@global-iot/core/admission/table.js';
import { loadGeoTable } from '@global-iot/core/geo/table.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { verifyTicket } from '@global-iot/core/ticket.js';
import { httpApiEvent, makeHarness, parseAnswer } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * The bootstrap for a device an operator asked to move (README, "A move, in two phases"): it is
 * answered exactly as on a first boot (endpoint, product template, ticket), for the move's region
 * (`move_region`), while the record keeps the region and certificate it runs on; a move that cannot
 * be placed is a 409 that names why, and changes nothing.
 */

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t.close();
});

const table = loadGeoTable();
const geo = { lookup: (addr: string) => table.lookup(addr) };
/** A Tokyo address (as in bootstrap.test.ts). */
const TOKYO_IP = '210.130.0.1';

function harness(config: Parameters<typeof makeHarness>[0]['config'] = {}) {
  return makeHarness({ registry: t.registry, now: () => t.clock.now, config, geo });
}

let counter = 0;
/** A device provisioned in `region`, then asked to move to `to`. */
async function movingDevice(region: string, to: string, options: { country?: string; pinnedRegion?: string } = {}): Promise<string> {
  const thingName = `mover-${++counter}`;
  await t.registry.enroll({ thingName, ...(options.pinnedRegion ? { pinnedRegion: options.pinnedRegion } : {}) });
  const ticketId = `ticket-${thingName}-aaaaaaaa`;
  await t.registry.assign({
    thingName,
    expectedStatus: 'unprovisioned',
    region,
    ticketId,
    ticketExpiresAt: t.clock.now + 60_000,
    requestTs: t.clock.now - 10_000,
    ...(options.country ? { country: options.country } : {}),
  });
  const certificateId = counter.toString(16).padStart(64, 'a');
  await t.registry.beginProvisioning({ thingName, region, ticketId, certificateId, maxAttempts: 3 });
  expect(await t.registry.confirm(thingName, certificateId, region)).toBe(true);
  await t.registry.requestMove({ thingName, to, reason: 'test', moveId: `m-${thingName}` });
  return thingName;
}

describe('bootstrap of a moving device', () => {
  it('answers the move target as on a first boot, and records it as the move region only', async () => {
    // Prepare
    const h = harness();
    const thingName = await movingDevice('us-east-1', 'eu-west-1');
    const before = await t.registry.get(thingName);

    // Act
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, thingName, t.clock.now), { sourceIp: TOKYO_IP }));

    // Assess: the Tokyo address does not matter, the operator's target does.
    expect(res.statusCode).toBe(200);
    const answer = parseAnswer(res);
    expect(answer).toMatchObject({
      status: 'success',
      region: 'eu-west-1',
      endpointAddress: 'abc123-ats.iot.eu-west-1.amazonaws.com',
      templateName: h.config.templateName,
      fallbacks: [],
      candidates: [{ region: 'eu-west-1', endpointAddress: 'abc123-ats.iot.eu-west-1.amazonaws.com' }],
      placement: 'moved',
    });
    const claims = verifyTicket(String(answer['ticket']), h.ticketKeys, t.clock.now);
    expect(claims).toMatchObject({ sub: thingName, rgn: 'eu-west-1' });
    const record = await t.registry.get(thingName);
    expect(record).toMatchObject({
      prov_status: 'moving',
      aws_region: 'us-east-1',
      certificate_id: before?.certificate_id,
      move_region: 'eu-west-1',
      move_to: 'eu-west-1',
      ticket_id: claims.jti,
      placement: 'moved',
    });
  });

  it('sends a `nearest` move to the best region by the policy that is not its own', async () => {
    // Prepare: where a new device at the same address goes first, and next.
    const h = harness();
    const fresh = `fresh-${++counter}`;
    await t.registry.enroll({ thingName: fresh });
    const first = parseAnswer(await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, fresh, t.clock.now), { sourceIp: TOKYO_IP })));
    const nearest = String(first['region']);
    const next = (first['fallbacks'] as { region: string }[])[0]?.region;
    const thingName = await movingDevice(nearest, 'nearest');

    // Act
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, thingName, t.clock.now), { sourceIp: TOKYO_IP }));

    // Assess
    expect(next).toBeDefined();
    expect(res.statusCode).toBe(200);
    expect(parseAnswer(res)).toMatchObject({ region: next, placement: 'moved' });
    expect(await t.registry.get(thingName)).toMatchObject({ prov_status: 'moving', aws_region: nearest, move_region: next, move_to: 'nearest' });
  });

  it('keeps a move the hook already let through in its region', async () => {
    // Prepare: the device was assigned eu-west-1 and the hook allowed its new certificate there.
    const h = harness();
    const thingName = await movingDevice('us-east-1', 'nearest');
    const assigned = parseAnswer(await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, thingName, t.clock.now), { sourceIp: TOKYO_IP })));
    const moveRegion = String(assigned['region']);
    const claims = verifyTicket(String(assigned['ticket']), h.ticketKeys, t.clock.now);
    const allowed = await t.registry.beginProvisioning({ thingName, region: moveRegion, ticketId: claims.jti, certificateId: 'e'.repeat(64), maxAttempts: 3 });

    // Act: it asks again from elsewhere (its RegisterThing answer was lost).
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, thingName, t.clock.now + 1), { sourceIp: '80.81.192.1' }));

    // Assess
    expect(allowed.allowed).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(parseAnswer(res)).toMatchObject({ region: moveRegion, fallbacks: [] });
    expect(await t.registry.get(thingName)).toMatchObject({ move_region: moveRegion, move_certificate_id: 'e'.repeat(64) });
  });

  /** A Frankfurt address. */
  const FRANKFURT_IP = '80.81.192.1';
  it.each([
    ['a target drained since the request', { draining: ['eu-west-1'] }, 'eu-west-1', {}, TOKYO_IP, /draining/],
    ['a target its residency rule now forbids', { residency: { DE: ['eu-central-1'] } }, 'eu-west-1', {}, FRANKFURT_IP, /residency/],
    ['`nearest` for a device pinned to its own region', {}, 'nearest', { pinnedRegion: 'us-east-1' }, TOKYO_IP, /no-other-region/],
  ])('refuses %s with MOVE_REFUSED and changes nothing', async (_label, config, to, options, sourceIp, message) => {
    // Prepare
    const h = harness(config);
    const thingName = await movingDevice('us-east-1', to, options);
    const before = await t.registry.get(thingName);

    // Act
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, thingName, t.clock.now), { sourceIp }));

    // Assess
    expect(res.statusCode).toBe(409);
    const answer = parseAnswer(res);
    expect(answer['code']).toBe('MOVE_REFUSED');
    expect(String(answer['message'])).toMatch(message);
    expect(await t.registry.get(thingName)).toEqual(before);
  });

  it("counts a move against its region's admission ceiling: over it, 429 REGION_BUSY and nothing changed", async () => {
    // Prepare: one new device a second may go to eu-west-1; two devices move there in the same second.
    const tableName = `admission-${randomUUID().slice(0, 8)}`;
    await ensureAdmissionTable(t.client, tableName);
    const h = makeHarness({
      registry: t.registry,
      now: () => t.clock.now,
      config: { admission: { tableName, safetyFactor: 1, registerThingQuotaTps: 1 } },
      geo,
      admissionClient: t.client,
    });
    const first = await movingDevice('us-east-1', 'eu-west-1');
    const second = await movingDevice('us-east-1', 'eu-west-1');
    const before = await t.registry.get(second);
    t.clock.now = (Math.floor(t.clock.now / 1000) + 1) * 1000 + 100;

    // Act
    const admitted = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, first, t.clock.now), { sourceIp: TOKYO_IP }));
    const refused = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, second, t.clock.now + 1), { sourceIp: TOKYO_IP }));

    // Assess
    expect(admitted.statusCode).toBe(200);
    expect(refused.statusCode).toBe(429);
    expect(parseAnswer(refused)['code']).toBe('REGION_BUSY');
    expect(await t.registry.get(second)).toEqual(before);
  });
});
