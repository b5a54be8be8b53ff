import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { getIotDataClient } from '@global-iot/core/lifecycle/clients.js';
import { askToMove, askToRotate, type RequestDeps } from '@global-iot/core/lifecycle/requests.js';
import { createCrtTransport, type MqttCredentials } from '@global-iot/device/mqtt.js';
import { FileStore, NEXT_CERT_FILE, type StoredDevice } from '@global-iot/device/store.js';
import type { ProductCloud } from './cloud.js';
import type { TestDevice } from './device.js';

/** What `iot-ops move` and `iot-ops rotate` do (core/lifecycle/requests.ts), against the local cloud. */
export function operator(cloud: ProductCloud): { move: (thingName: string, to: string) => ReturnType<typeof askToMove>; rotate: (thingName: string) => ReturnType<typeof askToRotate> } {
  const home = cloud.regions[0] ?? 'us-east-1';
  const deps: RequestDeps = {
    registry: cloud.registry,
    config: parseDeploymentConfig({ homeRegion: home, regions: [...cloud.regions], defaultRegion: home }),
    drainingRegions: async () => [],
    shadows: (region) => getIotDataClient(region, { endpoint: cloud.cloud.iotControlEndpoint }),
    now: Date.now,
  };
  return {
    move: (thingName, to) => askToMove(deps, { thingName, to, reason: 'test' }),
    rotate: (thingName) => askToRotate(deps, { thingName }),
  };
}

export async function stored(device: TestDevice): Promise<StoredDevice | undefined> {
  return new FileStore(join(device.dir, 'out')).load(device.thingName);
}

export function hasNextFiles(device: TestDevice): boolean {
  return existsSync(join(device.dir, 'out', NEXT_CERT_FILE));
}

/** Whether these credentials open a connection as the thing in that region (a revoked certificate does not). */
export async function connects(cloud: ProductCloud, thingName: string, region: string, credentials: MqttCredentials, endpoint = 'localhost'): Promise<boolean> {
  const transport = createCrtTransport({ protocol: 'mqtt311', caPem: cloud.rootCa, connectTimeoutMs: 3_000, operationTimeoutMs: 5_000 });
  const target = cloud.resolveEndpoint(region, endpoint);
  return transport.checkConnection(target, thingName, credentials).then(
    () => true,
    () => false,
  );
}

/** Which of the device's stored credential sets open a connection now: its current ones, and the pending ones. */
export async function workingCredentials(cloud: ProductCloud, device: TestDevice): Promise<{ current: boolean; pending?: boolean }> {
  const loaded = await stored(device);
  if (loaded?.credentials === undefined) return { current: false };
  const { state } = loaded;
  const current = await connects(cloud, device.thingName, state.region, loaded.credentials, state.endpoint);
  if (state.step !== 'confirmed' || state.pending === undefined || loaded.pending === undefined) return { current };
  return { current, pending: await connects(cloud, device.thingName, state.pending.region, loaded.pending, state.pending.endpoint) };
}
