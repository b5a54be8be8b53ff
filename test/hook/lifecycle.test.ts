import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisioningTemplateArn, THING_NAME_PARAM } from '@global-iot/core/provisioning-params.js';
import { createHookHandler } from '@global-iot/pre-provisioning-hook/app.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { certificateId, hookEvent, HookWorld } from './helpers.js';

/**
 * The hook after the first boot: the rotation template's rules (the same thing, over its current
 * certificate, on its own connection, in its region, while provisioned) and a moving device's
 * certificate in the move's region (README, "After the first boot").
 */

const REGION = 'eu-west-1';
const ELSEWHERE = 'ap-southeast-2';
const ROTATION_TEMPLATE = 'GlobalFleetRotation';

let t: TestRegistry;
let w: HookWorld;
beforeAll(async () => {
  t = await startTestRegistry();
  w = new HookWorld(t);
});
afterAll(async () => {
  await t.close();
});

/** A device provisioned in `region` with `cert`, as the first boot leaves it. */
async function provisioned(region = REGION): Promise<{ thingName: string; cert: string }> {
  const device = await w.assignedDevice(region);
  const cert = certificateId();
  expect((await createHookHandler(w.deps())(hookEvent({ ...device, region, certificateId: cert }))).allowProvisioning).toBe(true);
  expect(await t.registry.confirm(device.thingName, cert, region)).toBe(true);
  return { thingName: device.thingName, cert };
}

/** A RegisterThing on the rotation template, over the certificate `over`, from connection `clientId`. */
function rotationEvent(o: { thingName: string; over: string; newCert: string; clientId?: string; region?: string }): Record<string, unknown> {
  return {
    ...hookEvent({ thingName: o.thingName, region: o.region ?? REGION, certificateId: o.newCert, parameters: { [THING_NAME_PARAM]: o.thingName } }),
    claimCertificateId: o.over,
    clientId: o.clientId ?? o.thingName,
    templateArn: provisioningTemplateArn({ region: o.region ?? REGION, accountId: '123456789012', templateName: ROTATION_TEMPLATE }),
  };
}

describe('the rotation template', () => {
  it('allows a new certificate over the current one, on the thing’s own connection, and the same request again', async () => {
    // Prepare
    const device = await provisioned();
    const hook = createHookHandler(w.deps());
    const newCert = certificateId();

    // Act
    const first = await hook(rotationEvent({ thingName: device.thingName, over: device.cert, newCert }));
    const again = await hook(rotationEvent({ thingName: device.thingName, over: device.cert, newCert }));

    // Assess: no overrides (the rotation template has no Region or AssignedAt), and the registry waits for its confirmation.
    expect(first).toEqual({ allowProvisioning: true, parameterOverrides: {} });
    expect(again).toEqual({ allowProvisioning: true, parameterOverrides: {} });
    expect(w.lastLog()).toMatchObject({ thing: device.thingName, outcome: 'allow', reason: 'rotation repeated' });
    expect(await w.record(device.thingName)).toMatchObject({ prov_status: 'provisioned', certificate_id: device.cert, rotation_certificate_id: newCert });
  });

  it.each([
    ['the claim certificate (claim session, claim certificate)', (d: { thingName: string; cert: string }) => ({ over: 'c'.repeat(64), clientId: `prov-${d.thingName}` }), /own connection/],
    ['the claim certificate on a connection named as the thing', () => ({ over: 'c'.repeat(64) }), /current certificate/],
    ["another thing's certificate", () => ({ over: certificateId() }), /current certificate/],
    ['a connection of another thing', () => ({ clientId: 'someone-else' }), /own connection/],
    ['another region', () => ({ region: ELSEWHERE }), /another region/],
  ])('denies a rotation over %s, and changes nothing', async (_label, change, reason) => {
    // Prepare
    const device = await provisioned();
    const before = await w.record(device.thingName);
    const hook = createHookHandler(w.deps());

    // Act
    const answer = await hook(rotationEvent({ thingName: device.thingName, over: device.cert, newCert: certificateId(), ...change(device) }));

    // Assess
    expect(answer).toEqual({ allowProvisioning: false, parameterOverrides: {} });
    expect(String(w.lastLog()?.reason)).toMatch(reason);
    expect(await w.record(device.thingName)).toEqual(before);
  });

  it('denies a rotation over the replaced certificate once the rotation completed (a stolen old certificate)', async () => {
    // Prepare: the device rotated to a new certificate and confirmed it; the old one's clean-up has not run yet.
    const device = await provisioned();
    const hook = createHookHandler(w.deps());
    const newCert = certificateId();
    expect((await hook(rotationEvent({ thingName: device.thingName, over: device.cert, newCert }))).allowProvisioning).toBe(true);
    const confirmation = await t.registry.confirmation(device.thingName, newCert, REGION);
    if (confirmation.kind !== 'rotation') throw new Error(`expected a rotation, got ${confirmation.kind}`);
    await t.registry.completeRotation(confirmation.record, { certificateId: newCert, region: REGION });
    const before = await w.record(device.thingName);

    // Act
    const stolen = await hook(rotationEvent({ thingName: device.thingName, over: device.cert, newCert: certificateId() }));

    // Assess
    expect(stolen.allowProvisioning).toBe(false);
    expect(w.lastLog()?.reason).toBe("rotation: registry: the request did not come over the thing's current certificate");
    expect(before).toMatchObject({ certificate_id: newCert, cleanup_pending: [`keep/${REGION}/${newCert}`] });
    expect(await w.record(device.thingName)).toEqual(before);
  });

  it('denies a rotation of a device that is moving or blocked, and after the retry limit', async () => {
    // Prepare
    const moving = await provisioned();
    await t.registry.requestMove({ thingName: moving.thingName, to: ELSEWHERE, reason: 'test', moveId: 'm-1' });
    const blocked = await provisioned();
    await t.registry.block(blocked.thingName, 'test');
    const eager = await provisioned();
    const hook = createHookHandler(w.deps());

    // Act
    const answers = [
      await hook(rotationEvent({ thingName: moving.thingName, over: moving.cert, newCert: certificateId() })),
      await hook(rotationEvent({ thingName: blocked.thingName, over: blocked.cert, newCert: certificateId() })),
    ];
    const attempts = [];
    for (let i = 0; i < 4; i++) attempts.push((await hook(rotationEvent({ thingName: eager.thingName, over: eager.cert, newCert: certificateId() }))).allowProvisioning);

    // Assess
    expect(answers.map((a) => a.allowProvisioning)).toEqual([false, false]);
    expect(attempts).toEqual([true, true, true, false]);
    expect(w.lastLog()?.reason).toBe('rotation: registry: rotation retry limit reached');
  });
});

describe('a moving device', () => {
  it("allows its new certificate with the move's ticket in the move's region only", async () => {
    // Prepare: the bootstrap assigned the move's region and issued its ticket.
    const device = await provisioned();
    await t.registry.requestMove({ thingName: device.thingName, to: ELSEWHERE, reason: 'test', moveId: 'm-2' });
    const issued = await w.issue(device.thingName, ELSEWHERE);
    await t.registry.assign({
      thingName: device.thingName,
      expectedStatus: 'moving',
      region: ELSEWHERE,
      requestTs: t.clock.now + 1_000,
      ticketId: issued.claims.jti,
      ticketExpiresAt: issued.claims.exp * 1000,
    });
    const oldRegionTicket = await w.issue(device.thingName, REGION);
    const hook = createHookHandler(w.deps());
    const newCert = certificateId();

    // Act
    const inOldRegion = await hook(hookEvent({ thingName: device.thingName, ticket: oldRegionTicket.ticket, region: REGION, certificateId: certificateId() }));
    const inMoveRegion = await hook(hookEvent({ thingName: device.thingName, ticket: issued.ticket, region: ELSEWHERE, certificateId: newCert }));

    // Assess: until its confirmation the device keeps its region and certificate.
    expect(inOldRegion.allowProvisioning).toBe(false);
    expect(inMoveRegion).toMatchObject({ allowProvisioning: true, parameterOverrides: { Region: ELSEWHERE } });
    expect(await w.record(device.thingName)).toMatchObject({
      prov_status: 'moving',
      aws_region: REGION,
      certificate_id: device.cert,
      move_region: ELSEWHERE,
      move_certificate_id: newCert,
    });
  });
});
