import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisioningTemplateArn, THING_NAME_PARAM, TICKET_PARAM } from '@global-iot/core/provisioning-params.js';
import { claimClientId } from '@global-iot/core/claim-client-id.js';
import { TICKET_PREFIX } from '@global-iot/core/ticket.js';
import { decideProvisioning } from '@global-iot/pre-provisioning-hook/hook.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { CLAIM_PREFIX, certificateId, hookEvent, HookWorld, TICKET_KID, TICKET_TTL_SECONDS, ticketKeyPair } from './helpers.js';

const REGION = 'eu-west-1';
const OTHER_REGIONS = ['us-east-1', 'ap-southeast-2', 'eu-central-1'];

let t: TestRegistry;
let w: HookWorld;
/** Thing names in every state but `assigned`, with tickets the real key signed for them. */
let pool: { names: string[]; tickets: string[] };
/** One assigned device and the event that would provision it, kept unused until the end. */
let target: { thingName: string; ticket: string; event: Record<string, unknown> };

beforeAll(async () => {
  t = await startTestRegistry();
  w = new HookWorld(t);
  const unknown = w.newThingName('fuzz-unknown');
  const unprovisioned = await w.enrolled('fuzz-unprovisioned');
  const blocked = await w.enrolled('fuzz-blocked');
  await t.registry.block(blocked, 'fuzz');
  const provisioned = await w.assignedDevice(REGION);
  const cert = certificateId();
  await decideProvisioning(hookEvent({ ...provisioned, region: REGION, certificateId: cert }), w.deps());
  await t.registry.confirm(provisioned.thingName, cert, REGION);
  const names = [unknown, unprovisioned, blocked, provisioned.thingName];
  const tickets: string[] = [provisioned.ticket];
  for (const name of names) {
    for (const region of [REGION, ...OTHER_REGIONS]) tickets.push((await w.issue(name, region)).ticket);
  }
  pool = { names, tickets };
  const device = await w.assignedDevice(REGION);
  target = { ...device, event: hookEvent({ ...device, region: REGION, certificateId: certificateId() }) };
});
afterAll(async () => {
  await t.close();
});

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const region = fc.constantFrom(REGION, ...OTHER_REGIONS, 'xx-nowhere-9');

describe('random events', () => {
  it('never crash the hook and are never allowed: anything at all', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (event) => {
        const response = await decideProvisioning(event, w.deps());
        expect(response).toEqual({ allowProvisioning: false, parameterOverrides: {} });
      }),
      { numRuns: 300 },
    );
  });

  it('never crash the hook and are never allowed: hook-shaped events over real things and tickets', async () => {
    const name = fc.oneof(fc.constantFrom(...pool.names), fc.string({ maxLength: 140 }));
    const ticket = fc.oneof(fc.constantFrom(...pool.tickets), fc.string({ maxLength: 1100 }), fc.constant(TICKET_PREFIX));
    const event = fc.record(
      {
        claimCertificateId: fc.oneof(hex64, fc.string()),
        certificateId: fc.oneof(hex64, fc.string()),
        certificatePem: fc.string({ maxLength: 200 }),
        templateArn: fc.oneof(
          region.map((r) => provisioningTemplateArn({ region: r, accountId: '123456789012', templateName: 'T' })),
          fc.string(),
        ),
        // Bare names and claim client ids alike, so that some events get past the client-id check.
        clientId: fc.oneof(name, name.map((n) => claimClientId(CLAIM_PREFIX, n))),
        parameters: fc.oneof(
          fc.record({ [THING_NAME_PARAM]: name, [TICKET_PARAM]: ticket }, { requiredKeys: [] }),
          fc.dictionary(fc.string(), fc.oneof(fc.string(), ticket)),
          fc.anything(),
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(event, async (e) => {
        expect((await decideProvisioning(e, w.deps())).allowProvisioning).toBe(false);
      }),
      { numRuns: 250 },
    );
  });

  it('are never allowed when they differ from a valid event in any one way; the valid one is', async () => {
    // Prepare: one corruption of the target's valid event per run.
    const base = target.event as { parameters: Record<string, string> } & Record<string, unknown>;
    const withParams = (params: Record<string, string>) => ({ ...base, parameters: { ...base.parameters, ...params } });
    const [payload = '', signature = ''] = target.ticket.slice(TICKET_PREFIX.length).split('.');
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The last character of a base64url run may carry only padding bits; flipping it could leave
    // the bytes unchanged, so corruptions stay clear of it.
    const flipped = fc
      .tuple(fc.nat({ max: payload.length - 2 }), fc.constantFrom(...b64))
      .filter(([i, c]) => payload[i] !== c)
      .map(([i, c]) => `${TICKET_PREFIX}${payload.slice(0, i)}${c}${payload.slice(i + 1)}.${signature}`);
    const foreign = await w.issue(target.thingName, REGION, ticketKeyPair(TICKET_KID).signer);
    const corruption: fc.Arbitrary<{ event: unknown; now?: () => number }> = fc.oneof(
      fc.constantFrom(...OTHER_REGIONS).map((r) => ({
        event: { ...base, templateArn: provisioningTemplateArn({ region: r, accountId: '123456789012', templateName: 'T' }) },
      })),
      fc.constantFrom(...pool.names).map((n) => ({ event: withParams({ [THING_NAME_PARAM]: n }) })),
      fc.constantFrom(...pool.names).map((n) => ({ event: { ...base, clientId: n } })),
      fc
        .constantFrom(...pool.names)
        .filter((n) => n !== target.thingName)
        .map((n) => ({ event: { ...base, clientId: claimClientId(CLAIM_PREFIX, n) } })),
      fc.constantFrom(...pool.tickets, foreign.ticket, target.ticket.slice(0, -1), `${target.ticket}A`).map((tk) => ({
        event: withParams({ [TICKET_PARAM]: tk }),
      })),
      flipped.map((tk) => ({ event: withParams({ [TICKET_PARAM]: tk }) })),
      fc.constantFrom('claimCertificateId', 'certificateId', 'certificatePem', 'templateArn', 'clientId', 'parameters').map((k) => ({
        event: { ...base, [k]: undefined },
      })),
      fc.constant({ event: base, now: () => t.clock.now + TICKET_TTL_SECONDS * 1000 }),
    );
    // Act / Assess
    await fc.assert(
      fc.asyncProperty(corruption, async ({ event, now }) => {
        const response = await decideProvisioning(event, w.deps(now ? { now } : {}));
        expect(response.allowProvisioning).toBe(false);
      }),
      { numRuns: 150 },
    );
    expect((await w.record(target.thingName))?.prov_status).toBe('assigned');
    expect((await decideProvisioning(target.event, w.deps())).allowProvisioning).toBe(true);
  });
});
