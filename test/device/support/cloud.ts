import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { type HostMode, type LocalCloud, type RegionEndpointOptions, startLocalCloud } from '@global-iot/local/cloud.js';
import { createLogger } from '@global-iot/local/log.js';
import { productWiring } from '@global-iot/local/product.js';
import type { MqttTarget } from '@global-iot/device/mqtt.js';

/**
 * The local cloud running the product (the real bootstrap, hooks and confirmation handler over
 * dynalite) in demo mode, so the simulated-source-address header is honoured, plus a registry
 * client to enrol test devices the way `ops enroll` does.
 */

export interface ProductCloud {
  cloud: LocalCloud;
  registry: DeviceRegistry;
  bootstrapUrl: URL;
  rootCa: string;
  claimCert: string;
  claimKey: string;
  regions: readonly string[];
  /** A temporary directory removed by `close()`: the PKI, and room for the test devices' files. */
  workDir: string;
  /** Regions share the host `localhost` on different ports: the device maps region to port. */
  resolveEndpoint: (region: string, endpointAddress: string) => MqttTarget;
  close(): Promise<void>;
}

export async function startProductCloud(
  regions: readonly string[],
  options: {
    regionDelaysMs?: Record<string, number>;
    /** Where each region listens (default: localhost, a free port each); with `hostMode` what the answers name. */
    endpoints?: readonly RegionEndpointOptions[];
    hostMode?: HostMode;
  } = {},
): Promise<ProductCloud> {
  const pkiDir = mkdtempSync(join(tmpdir(), 'device-cloud-'));
  const log = createLogger(process.env['LOCAL_CLOUD_TEST_LOG'] === 'debug' ? 'debug' : 'silent');
  const cloud = await startLocalCloud({
    pkiDir,
    regions: options.endpoints ? [...options.endpoints] : [...regions],
    ...(options.hostMode ? { hostMode: options.hostMode } : {}),
    demo: true,
    deviceKeyAlgorithm: 'ec-p256',
    ...(options.regionDelaysMs ? { regionDelaysMs: options.regionDelaysMs } : {}),
    log,
    wire: productWiring({ keysDir: join(pkiDir, 'keys'), log }),
  });
  if (!cloud.dynamo || !cloud.bootstrapUrl) throw new Error('the local cloud started without DynamoDB or the bootstrap API');
  const homeRegion = regions[0] ?? 'us-east-1';
  const { tableName } = parseDeploymentConfig({ homeRegion, regions: [...regions], defaultRegion: homeRegion });
  const client = new DynamoDBClient({
    region: homeRegion,
    endpoint: cloud.dynamo.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const ports = new Map(cloud.regions.map((r) => [r.region, r]));
  return {
    cloud,
    registry: new DeviceRegistry({ client, tableName }),
    bootstrapUrl: new URL(`${cloud.bootstrapUrl}/bootstrap`),
    rootCa: readFileSync(cloud.paths.rootCa, 'utf8'),
    claimCert: readFileSync(cloud.paths.claimCert, 'utf8'),
    claimKey: readFileSync(cloud.paths.claimKey, 'utf8'),
    regions,
    workDir: pkiDir,
    resolveEndpoint: (region, endpointAddress) => {
      const endpoint = ports.get(region);
      if (!endpoint) throw new Error(`the answer names region ${region}, which the cloud does not run`);
      return { region, host: endpointAddress, port: endpoint.port };
    },
    close: async () => {
      client.destroy();
      await cloud.stop();
      rmSync(pkiDir, { recursive: true, force: true });
    },
  };
}
