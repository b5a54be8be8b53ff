import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisioningTemplateArn } from '@global-iot/core/provisioning-params.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { ed25519Signer, issueTicket } from '@global-iot/core/ticket.js';
import { DEFAULT_TEMPLATE_NAME } from '@global-iot/local/cloud.js';
import { HOOK_FUNCTION_NAME, TICKET_KEY_ID } from '@global-iot/local/product.js';
import { expectCleanEnd, settleConfirmations } from './support/audit.js';
import { REGION_ADDRESSES, type ReliabilityCloud, startAuditedCloud } from './support/cloud.js';
import { connectMqtt, type DeviceEnvironment, runDevice } from './support/device.js';
import { call } from './support/http.js';
import type { LogAudit } from './support/log-audit.js';
import { publishAndWait } from './support/mqtt-probe.js';
import { reliabilityScale } from './support/scale.js';

/**
 * Tickets presented where they do not belong: another region's, another device's, an expired
 * one, one the bootstrap never signed, one a newer bootstrap replaced, one already spent; and the
 * hook itself, invoked through the Lambda API with random and mutated events. Zero wrong allows:
 * no thing, no ACTIVE certificate, no registry change comes of any of them.
 */

const scale = reliabilityScale();
const TOKYO = 'ap-northeast-1';
const SYDNEY = 'ap-southeast-2';
let audit: LogAudit;
let rc: ReliabilityCloud;
let env: DeviceEnvironment;
let closeCloud: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ audit, rc, env, close: closeCloud } = await startAuditedCloud());
  await rc.enroll(['tokyo-0', 'sydney-0', 'hook-fuzz-0', 'spent-0']);
});

afterAll(async () => {
  await closeCloud?.();
});

interface Assignment {
  region: string;
  ticket: string;
}

async function bootstrap(thingName: string, network: string): Promise<Assignment> {
  const answer = await call(`${rc.cloud.bootstrapUrl ?? ''}/bootstrap`, {
    ca: rc.rootCa,
    body: JSON.stringify(signedBootstrapRequest(rc.fleetKey, thingName, Date.now())),
    headers: { 'content-type': 'application/json', 'x-demo-source-ip': `${network}.9` },
  });
  if (answer.status !== 200) throw new Error(`bootstrap ${answer.status}: ${answer.text}`);
  const { region, ticket } = answer.json as Assignment;
  audit.watch(ticket);
  return { region, ticket };
}

/** A claim connection in `region` as `clientId`: a new certificate, then RegisterThing with these parameters. */
async function register(region: string, clientId: string, parameters: Record<string, string>): Promise<{ outcome: string; certificateId: string; cert: string; key: string }> {
  const connected = await connectMqtt(env, region, rc.claim, `prov-${clientId}`);
  if (connected.kind !== 'connected') throw new Error(`claim connection refused in ${region}`);
  const client = connected.client;
  const provision = `$aws/provisioning-templates/${DEFAULT_TEMPLATE_NAME}/provision/json`;
  await client.subscribeAsync(['$aws/certificates/create/json/+', `${provision}/+`]);
  const created = await publishAndWait(client, '$aws/certificates/create/json', Buffer.from('{}'));
  if (created.kind !== 'accepted') throw new Error('CreateKeysAndCertificate failed');
  const { certificateId, certificateOwnershipToken, certificatePem, privateKey } = created.body as { certificateId: string; certificateOwnershipToken: string; certificatePem: string; privateKey: string };
  const registered = await publishAndWait(client, provision, Buffer.from(JSON.stringify({ certificateOwnershipToken, parameters })));
  client.end(true);
  const outcome = registered.kind === 'closed' ? 'closed' : registered.kind === 'accepted' ? 'accepted' : String(registered.body['errorCode']);
  return { outcome, certificateId, cert: certificatePem, key: privateKey };
}

describe('tickets presented where they do not belong', () => {
  it('are all refused: other region, other device, other client, expired, unsigned, superseded, spent', { timeout: 120_000 }, async () => {
    // Prepare
    const tokyo = await bootstrap('tokyo-0', REGION_ADDRESSES[TOKYO] ?? '');
    const sydney = await bootstrap('sydney-0', REGION_ADDRESSES[SYDNEY] ?? '');
    const now = Date.now();
    const expired = await issueTicket(rc.ticketSigner, { thingName: 'tokyo-0', region: TOKYO, ttlSeconds: 60, nowMs: now - 120_000 });
    const foreignKey = ed25519Signer(TICKET_KEY_ID, generateKeyPairSync('ed25519').privateKey);
    const unsigned = await issueTicket(foreignKey, { thingName: 'tokyo-0', region: TOKYO, ttlSeconds: 900, nowMs: now });
    const unknownKid = await issueTicket(ed25519Signer('not-a-key', generateKeyPairSync('ed25519').privateKey), { thingName: 'tokyo-0', region: TOKYO, ttlSeconds: 900, nowMs: now });
    // Correctly signed for this device and region, but never the registry's live assignment.
    const neverAssigned = await issueTicket(rc.ticketSigner, { thingName: 'tokyo-0', region: TOKYO, ttlSeconds: 900, nowMs: now });
    const [payload = '', signature = ''] = tokyo.ticket.slice(3).split('.');
    const tampered = `t1.${payload.slice(0, -2)}${payload.endsWith('A') ? 'B' : 'A'}${payload.slice(-1)}.${signature}`;

    // Act
    const attempts = {
      otherRegion: await register(SYDNEY, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: tokyo.ticket }),
      otherDevice: await register(SYDNEY, 'sydney-0', { ThingName: 'sydney-0', Ticket: tokyo.ticket }),
      otherClient: await register(TOKYO, 'sydney-0', { ThingName: 'tokyo-0', Ticket: tokyo.ticket }),
      otherDevicesTicket: await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: sydney.ticket }),
      expired: await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: expired.ticket }),
      unsigned: await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: unsigned.ticket }),
      unknownKid: await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: unknownKid.ticket }),
      neverAssigned: await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: neverAssigned.ticket }),
      tampered: await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: tampered }),
      noTicket: await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0' }),
    };
    const superseded = tokyo.ticket;
    const fresh = await bootstrap('tokyo-0', REGION_ADDRESSES[TOKYO] ?? '');
    const supersededAttempt = await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: superseded });
    const recordBefore = await rc.registry.get('tokyo-0');
    const legitimate = await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: fresh.ticket });
    const spentAgain = await register(TOKYO, 'tokyo-0', { ThingName: 'tokyo-0', Ticket: fresh.ticket });
    const recordAfter = await rc.registry.get('tokyo-0');
    // The device then connects with its certificate, as it would: that confirms it.
    const connected = await connectMqtt(env, TOKYO, legitimate, 'tokyo-0');
    if (connected.kind === 'connected') await connected.client.endAsync();

    // Assess
    expect([tokyo.region, sydney.region]).toEqual([TOKYO, SYDNEY]);
    expect(Object.fromEntries(Object.entries(attempts).map(([k, v]) => [k, v.outcome]))).toEqual(
      Object.fromEntries(Object.keys(attempts).map((k) => [k, 'AccessDenied'])),
    );
    expect(supersededAttempt.outcome).toBe('AccessDenied');
    expect(recordBefore).toMatchObject({ prov_status: 'assigned', aws_region: TOKYO });
    expect(legitimate.outcome).toBe('accepted');
    expect(spentAgain.outcome).toBe('AccessDenied');
    expect(recordAfter).toMatchObject({ prov_status: 'provisioning', certificate_id: legitimate.certificateId, provision_attempts: 1 });
  });

  it('a spent ticket cannot provision the device again once it is provisioned', { timeout: 60_000 }, async () => {
    // Prepare
    const device = await runDevice(env, { thingName: 'spent-0', certificateMode: 'keys', sourceIp: `${REGION_ADDRESSES[SYDNEY] ?? ''}.7` });
    await settleConfirmations(rc);
    const forged = await issueTicket(rc.ticketSigner, { thingName: 'spent-0', region: SYDNEY, ttlSeconds: 900, nowMs: Date.now() });

    // Act
    const again = await register(SYDNEY, 'spent-0', { ThingName: 'spent-0', Ticket: forged.ticket });
    const record = await rc.registry.get('spent-0');

    // Assess
    expect(device.ok).toBe(true);
    expect(again.outcome).toBe('AccessDenied');
    expect(record).toMatchObject({ prov_status: 'provisioned', certificate_id: device.certificateId });
  });
});

describe('the hook, invoked through the Lambda API', () => {
  let lambda: LambdaClient;
  let valid: { event: Record<string, unknown>; ticket: string };

  beforeAll(async () => {
    lambda = new LambdaClient({ region: TOKYO, endpoint: rc.cloud.lambdaEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
    const assignment = await bootstrap('hook-fuzz-0', REGION_ADDRESSES[TOKYO] ?? '');
    valid = {
      ticket: assignment.ticket,
      event: {
        claimCertificateId: rc.cloud.pki.claim.certificateId,
        certificateId: randomBytes(32).toString('hex'),
        certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        templateArn: provisioningTemplateArn({ region: TOKYO, accountId: rc.cloud.accountId, templateName: DEFAULT_TEMPLATE_NAME }),
        clientId: 'prov-hook-fuzz-0',
        parameters: { ThingName: 'hook-fuzz-0', Ticket: assignment.ticket },
      },
    };
  });

  afterAll(() => {
    lambda?.destroy();
  });

  async function invoke(event: unknown): Promise<{ allow: unknown; functionError?: string }> {
    const out = await lambda.send(new InvokeCommand({ FunctionName: rc.cloud.functionArn(TOKYO, HOOK_FUNCTION_NAME), Payload: Buffer.from(JSON.stringify(event) ?? 'null') }));
    const answer = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8') || 'null') as { allowProvisioning?: unknown } | null;
    return { allow: answer?.allowProvisioning, ...(out.FunctionError ? { functionError: out.FunctionError } : {}) };
  }

  it('denies random events and every single change to a valid one, then allows the valid one', { timeout: 120_000 }, async () => {
    // Prepare
    const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
    const mutation = fc.oneof(
      fc.record({ field: fc.constant('templateArn'), value: fc.constantFrom(SYDNEY, 'us-east-1', 'eu-central-1').map((r) => provisioningTemplateArn({ region: r, accountId: rc.cloud.accountId, templateName: DEFAULT_TEMPLATE_NAME })) }),
      fc.record({ field: fc.constant('clientId'), value: fc.oneof(fc.constantFrom('tokyo-0', 'hook-fuzz-0', 'prov-tokyo-0'), fc.string({ maxLength: 130 })) }),
      fc.record({ field: fc.constant('ThingName'), value: fc.oneof(fc.constantFrom('tokyo-0', 'sydney-0', 'spent-0'), fc.string({ maxLength: 130 })) }),
      fc.record({ field: fc.constant('Ticket'), value: fc.oneof(fc.string({ maxLength: 1_100 }), fc.integer({ min: 3, max: 300 }).map((i) => `${valid.ticket.slice(0, i)}${valid.ticket[i] === 'A' ? 'B' : 'A'}${valid.ticket.slice(i + 1)}`)) }),
      // Any well-formed certificate id is a first certificate the hook may allow: only malformed ones here.
      fc.record({ field: fc.constant('certificateId'), value: fc.oneof(fc.string({ maxLength: 70 }), hex64.map((h) => `${h}0`), hex64.map((h) => h.slice(1))).filter((id) => !/^[0-9a-fA-F]{64}$/.test(id)) }),
    );
    const results: unknown[] = [];

    // Act
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), fc.jsonValue()), async (event) => {
        const answer = await invoke(event);
        results.push(answer.allow === false ? false : { event, allow: answer.allow });
      }),
      { numRuns: scale.fuzzRuns },
    );
    await fc.assert(
      fc.asyncProperty(mutation, async ({ field, value }) => {
        const parameters = valid.event['parameters'] as Record<string, string>;
        const event = field === 'ThingName' || field === 'Ticket' ? { ...valid.event, parameters: { ...parameters, [field]: value } } : { ...valid.event, [field]: value };
        if (JSON.stringify(event) === JSON.stringify(valid.event)) return;
        const answer = await invoke(event);
        expect(answer.functionError).toBeUndefined();
        results.push(answer.allow === false ? false : { field, value, allow: answer.allow });
      }),
      { numRuns: scale.fuzzRuns },
    );
    const genuine = await invoke(valid.event);
    const repeated = await invoke(valid.event);
    const otherCertificate = await invoke({ ...valid.event, certificateId: randomBytes(32).toString('hex') });

    // Assess
    expect(results.length).toBeGreaterThanOrEqual(scale.fuzzRuns);
    expect(results.filter((r) => r !== false)).toEqual([]);
    expect([genuine.allow, repeated.allow, otherCertificate.allow]).toEqual([true, true, false]);
  });
});

describe('after all of it', () => {
  it('no thing exists that the registry did not provision, no certificate is left ACTIVE, no log line holds a secret', async () => {
    await expectCleanEnd(rc, audit);
  });
});
