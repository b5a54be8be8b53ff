/**
 * The alarms and the dashboard name outcomes and reasons that are plain strings inside the
 * functions. These tests drive the real functions into each of them (the hook against dynalite,
 * a DynamoDB that refuses connections and one that never answers) and compare with what
 * infra/monitoring/metrics.ts counts, so that a renamed reason fails here, not silently in
 * CloudWatch.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Duration } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Throttled } from '@global-iot/bootstrap-service/errors.js';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { decideProvisioning } from '@global-iot/pre-provisioning-hook/hook.js';
import { HOOK_DYNAMO_CLIENT_OPTIONS } from '@global-iot/pre-provisioning-hook/settings.js';
import {
  BOOTSTRAP_THROTTLED_OUTCOME,
  HOOK_ALLOW_REASONS,
  HOOK_DENY_OUTCOME,
  HOOK_ERROR_REASONS,
  invocationsBy,
} from '@global-iot/infra/monitoring/metrics.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { certificateId, closedPort, hookEvent, HookWorld } from '../hook/helpers.js';

const REGION = 'eu-central-1';

let t: TestRegistry;
let w: HookWorld;
let hanging: { server: Server; sockets: Set<Socket> };

beforeAll(async () => {
  t = await startTestRegistry();
  w = new HookWorld(t);
  // A DynamoDB that accepts connections and never answers: only the hook's deadline ends the wait.
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hanging = { server, sockets };
});

afterAll(async () => {
  for (const socket of hanging.sockets) socket.destroy();
  await new Promise<void>((resolve) => hanging.server.close(() => resolve()));
  await t.close();
});

/** The reason and outcome the hook recorded for one decision about a freshly assigned device. */
async function decideWith(registry: DeviceRegistry, deadlineMs?: number): Promise<{ reason: unknown; outcome: unknown }> {
  const device = await w.assignedDevice(REGION);
  await decideProvisioning(
    hookEvent({ ...device, region: REGION, certificateId: certificateId() }),
    w.deps({ registry, ...(deadlineMs === undefined ? {} : { deadlineMs }) }),
  );
  const line = w.lastLog();
  return { reason: line?.reason, outcome: line?.outcome };
}

function registryAt(endpoint: string, tableName = t.tableName): DeviceRegistry {
  const client = getDynamoClient({ region: 'us-east-1', endpoint, ...HOOK_DYNAMO_CLIENT_OPTIONS });
  return new DeviceRegistry({ client, tableName });
}

describe('what the hook records, as the alarms count it', () => {
  it('records the allow reasons the denial graph leaves out', async () => {
    // Prepare
    const device = await w.assignedDevice(REGION);
    const event = hookEvent({ ...device, region: REGION, certificateId: certificateId() });

    // Act
    await decideProvisioning(event, w.deps());
    const first = w.lastLog();
    await decideProvisioning(event, w.deps());
    const again = w.lastLog();

    // Assess
    expect([first?.reason, again?.reason]).toEqual([...HOOK_ALLOW_REASONS]);
    expect([first?.outcome, again?.outcome]).toEqual(['allow', 'allow']);
  });

  it('records each error reason the hook-errors alarm adds up, as a denial', async () => {
    // Prepare: a registry table that does not exist (DynamoDB answers 400: a bug, not an outage),
    // a DynamoDB that refuses connections, and one that never answers.
    const missingTable = registryAt(t.dynamo.endpoint, 'no-such-table');
    const refusing = registryAt(`http://127.0.0.1:${await closedPort()}`);
    const silent = registryAt(`http://127.0.0.1:${(hanging.server.address() as AddressInfo).port}`);

    // Act
    const recorded = [await decideWith(missingTable), await decideWith(refusing), await decideWith(silent, 200)];

    // Assess
    expect(recorded.map((r) => r.reason)).toEqual([...HOOK_ERROR_REASONS]);
    expect(recorded.map((r) => r.outcome)).toEqual([HOOK_DENY_OUTCOME, HOOK_DENY_OUTCOME, HOOK_DENY_OUTCOME]);
  });
});

describe('what the bootstrap records', () => {
  it("counts its own 429 (the admission limiter) under the outcome the stage-throttle figure subtracts", () => {
    // Act
    const throttled = new Throttled('over the ceiling');

    // Assess
    expect(throttled.status).toBe(429);
    expect(throttled.code).toBe(BOOTSTRAP_THROTTLED_OUTCOME);
  });
});

describe('invocationsBy', () => {
  it('quotes a namespace that is not a plain word and leaves out the listed values', () => {
    // Act
    const expression = invocationsBy({ namespace: 'Six/"Prov"', period: Duration.minutes(5), region: 'sa-east-1' }, 'pre-provisioning-hook', 'Reason', [
      'allowed',
    ]);

    // Assess
    expect(expression.expression).toBe(
      'SEARCH(\'{"Six/\\"Prov\\"",Reason,service} service="pre-provisioning-hook" MetricName="Invocations" NOT Reason="allowed"\', \'Sum\', 300)',
    );
    expect(expression.searchRegion).toBe('sa-east-1');
  });
});
