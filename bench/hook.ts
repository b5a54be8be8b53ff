/**
 * Pre-provisioning hook benchmark (issue: pre-provisioning hook). The whole decision against
 * dynalite through the DynamoDB client the deployed hook uses (keep-alive, its timeouts): an
 * allow (the conditional write alone), a deny from the registry (the refused write, then a
 * read) and a deny before any registry call (bad ticket). Target: allow p99 under 20 ms against
 * local dynalite.
 *
 *   npx tsx bench/hook.ts
 */
import { randomBytes } from 'node:crypto';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { invocationLogFields } from '@global-iot/core/lambda-telemetry.js';
import { DeviceRegistry, ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { issueTicket } from '@global-iot/core/ticket.js';
import { startDynalite } from '@global-iot/local/dynamodb.js';
import { decideProvisioning, type HookDeps } from '@global-iot/pre-provisioning-hook/hook.js';
import { HOOK_DYNAMO_CLIENT_OPTIONS } from '@global-iot/pre-provisioning-hook/settings.js';
import { certificateId, hookEvent, ticketKeyPair } from '../test/hook/helpers.js';
import { isMain, round, timeAsync } from './stats.js';

const REGION = 'eu-central-1';
const ITERATIONS = 1_000;
const WARMUP = 50;

export async function benchHook(): Promise<Record<string, number>> {
  const dynamo = await startDynalite();
  const client = getDynamoClient({ region: 'us-east-1', endpoint: dynamo.endpoint, ...HOOK_DYNAMO_CLIENT_OPTIONS });
  try {
    const tableName = `bench-registry-${randomBytes(4).toString('hex')}`;
    await ensureRegistryTable(client, tableName);
    const registry = new DeviceRegistry({ client, tableName });
    const { signer, keys } = ticketKeyPair('bench');
    const deps: HookDeps = {
      registry,
      ticketKeys: keys,
      now: Date.now,
      settings: { maxProvisionAttempts: 3, claimClientIdPrefix: 'prov-', legacyClaimClientIds: false, rotationTemplateName: 'GlobalFleetRotation' },
      // Serialised as the Lambda's log line is, so that its cost is in the figures.
      record: (entry) => void JSON.stringify(invocationLogFields(entry)),
    };
    // One enrolled, assigned device per allowed call: each allow is a device's first RegisterThing.
    const devices: { thingName: string; ticket: string }[] = [];
    for (let i = 0; i < ITERATIONS + WARMUP; i++) {
      const thingName = `bench-device-${i}`;
      const { ticket, claims } = await issueTicket(signer, { thingName, region: REGION, ttlSeconds: 900, nowMs: Date.now() });
      await registry.enroll({ thingName });
      await registry.assign({
        thingName,
        expectedStatus: 'unprovisioned',
        region: REGION,
        requestTs: Date.now(),
        ticketId: claims.jti,
        ticketExpiresAt: claims.exp * 1000,
      });
      devices.push({ thingName, ticket });
    }
    const event = (device: { thingName: string; ticket: string }, ticket = device.ticket) =>
      hookEvent({ thingName: device.thingName, ticket, region: REGION, certificateId: certificateId() });
    const decide = async (e: unknown, expected: boolean) => {
      const response = await decideProvisioning(e, deps);
      if (response.allowProvisioning !== expected) throw new Error(`bench: expected allow=${expected}, got the opposite`);
    };

    const results: Record<string, number> = {};
    const record = (label: string, t: { p50: number; p99: number }) => {
      results[`hook.${label}_p50_ms`] = round(t.p50 / 1000);
      results[`hook.${label}_p99_ms`] = round(t.p99 / 1000);
    };
    record('allow', await timeAsync((i) => decide(event(devicesAt(devices, i)), true), ITERATIONS, WARMUP));
    // The same devices again with new certificates: the registry refuses (ticket already used).
    record('deny_registry', await timeAsync((i) => decide(event(devicesAt(devices, i)), false), ITERATIONS, WARMUP));
    record('deny_ticket', await timeAsync((i) => decide(event(devicesAt(devices, i), 't1.bad.ticket'), false), ITERATIONS, WARMUP));
    return results;
  } finally {
    client.destroy();
    await dynamo.close();
  }
}

function devicesAt<T>(devices: readonly T[], i: number): T {
  const device = devices[i % devices.length];
  if (device === undefined) throw new Error('bench: no devices');
  return device;
}

if (isMain(import.meta.url)) {
  const figures = await benchHook();
  for (const [name, value] of Object.entries(figures)) console.log(`${name}\t${value}`);
  process.exit(0);
}
