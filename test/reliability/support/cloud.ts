import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createBootstrapDeps, createBootstrapHandler } from '@global-iot/bootstrap-service/app.js';
import type { GeolocateDeps } from '@global-iot/bootstrap-service/geolocate.js';
import { describeEndpointViaIot } from '@global-iot/core/endpoints.js';
import { loggingRecorder } from '@global-iot/core/lambda-telemetry.js';
import { bulkEnroll, DeviceRegistry } from '@global-iot/core/registry/index.js';
import { ed25519Signer, type TicketSigner } from '@global-iot/core/ticket.js';
import { type CloudContext, DEFAULT_TEMPLATE_NAME, type LocalCloud, startLocalCloud } from '@global-iot/local/cloud.js';
import { type LocalDynamo, startDynalite } from '@global-iot/local/dynamodb.js';
import type { LocalFunction } from '@global-iot/local/lambda-endpoint.js';
import { defaultProductConfig, HOOK_FUNCTION_NAME, productKeyPaths, productWiring, TICKET_KEY_ID } from '@global-iot/local/product.js';
import type { DeviceEnvironment } from './device.js';
import { createLogAudit, type LogAudit, pemFingerprint } from './log-audit.js';

/**
 * The product on the local cloud (productWiring: the real bootstrap, hook and confirmation),
 * with the levers the fault runs pull: dynalite that can be stopped and started again with its
 * data, region brokers that can be stopped and started, a hook that can be made slow in one
 * region, and geolocation that can be made to fail. Every log line goes through the audit.
 */

export const REGISTRY_TABLE = 'iot-device-registry';

/** Public addresses the geolocation table places near each default region (checked by the load test). */
export const REGION_ADDRESSES: Readonly<Record<string, string>> = {
  'us-east-1': '98.0.0',
  'eu-central-1': '194.25.0',
  'ap-northeast-1': '202.12.27',
  'sa-east-1': '200.160.0',
  'ap-southeast-2': '1.1.1',
};

export interface ReliabilityCloudOptions {
  readonly audit: LogAudit;
  readonly regions?: readonly string[];
  /** Honour x-demo-source-ip, so devices can be placed around the world (default true). */
  readonly demo?: boolean;
  /** Keep dynalite's data on disk, so that it can be stopped and started again. */
  readonly persistent?: boolean;
  /**
   * `table`: the product's own (the offline table when built); `none`: no geolocation; an object:
   * the bootstrap is rebuilt with these geolocation dependencies (everything else the same).
   */
  readonly geolocation?: 'table' | 'none' | GeolocateDeps;
  /** The region whose hook can be slowed with setHookDelay. */
  readonly slowHookRegion?: string;
  /** How long IoT waits for the hook (AWS: 5 s). */
  readonly hookTimeoutMs?: number;
}

export interface ReliabilityCloud {
  readonly cloud: LocalCloud;
  readonly registry: DeviceRegistry;
  readonly dynamoClient: DynamoDBClient;
  readonly fleetKey: KeyObject;
  readonly rootCa: string;
  readonly claim: { readonly cert: string; readonly key: string };
  readonly homeRegion: string;
  /** The bootstrap's own ticket key: tests forge tickets the hooks' signature check accepts. */
  readonly ticketSigner: TicketSigner;
  /** What devices need to reach this cloud; each device opens connections of its own. */
  deviceEnvironment(onSecret?: (secret: string) => void): DeviceEnvironment;
  enroll(thingNames: readonly string[]): Promise<void>;
  /** Delay before the slow region's hook starts deciding, as a cold start or a stalled runtime would. */
  setHookDelay(ms: number): void;
  /** Calls of the slow region's hook that were delayed. */
  slowHookCalls(): number;
  stopDynamo(): Promise<void>;
  startDynamo(): Promise<void>;
  stopBroker(region: string): Promise<void>;
  startBroker(region: string): Promise<void>;
  close(): Promise<void>;
}

/** Long enough for a confirmation started by the last connection to finish against dynalite. */
const QUIESCE_MS = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The product's bootstrap handler again, from the keys productWiring wrote, with other geolocation. */
function bootstrapWithGeo(context: CloudContext, keysDir: string, geo: GeolocateDeps, audit: LogAudit) {
  const regions = context.regions.map((r) => r.region);
  const [homeRegion] = regions;
  if (!homeRegion || !context.dynamo) throw new Error('the reliability cloud needs a region and dynalite');
  const config = defaultProductConfig(regions, { templateName: DEFAULT_TEMPLATE_NAME });
  const paths = productKeyPaths(keysDir);
  const client = new DynamoDBClient({ region: homeRegion, endpoint: context.dynamo.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const handler = createBootstrapHandler(
    createBootstrapDeps({
      config,
      registry: new DeviceRegistry({ client, tableName: config.tableName, now: context.now }),
      fleetPublicKeys: [readFileSync(paths.fleetPublicKeyPath, 'utf8')],
      signer: ed25519Signer(TICKET_KEY_ID, readFileSync(join(keysDir, 'ticket-signing.key'), 'utf8')),
      describeEndpoint: describeEndpointViaIot({ endpoint: context.iotControlEndpoint }),
      geo,
      record: loggingRecorder(audit.logger),
      admissionClient: client,
      now: context.now,
    }),
  );
  return { handler, dispose: () => client.destroy() };
}

export async function startReliabilityCloud(options: ReliabilityCloudOptions): Promise<ReliabilityCloud> {
  const { audit } = options;
  const dir = mkdtempSync(join(tmpdir(), 'reliability-'));
  const keysDir = join(dir, 'keys');
  const dataDir = options.persistent ? join(dir, 'data') : undefined;
  const slow = { delayMs: 0, calls: 0 };

  const cloud = await startLocalCloud({
    ...(options.regions ? { regions: options.regions } : {}),
    ...(dataDir ? { dataDir } : { pkiDir: join(dir, 'pki') }),
    deviceKeyAlgorithm: 'ec-p256',
    demo: options.demo ?? true,
    ...(options.hookTimeoutMs !== undefined ? { hookTimeoutMs: options.hookTimeoutMs } : {}),
    log: audit.logger,
    wire: async (context) => {
      const geolocation = options.geolocation ?? 'table';
      const wiring = await productWiring({ keysDir, log: audit.logger, geolocation: geolocation === 'table' })(context);
      const functions = (wiring.functions ?? []).map((fn): LocalFunction => {
        if (fn.name !== HOOK_FUNCTION_NAME || fn.region !== options.slowHookRegion) return fn;
        // Lambda's own limit well above IoT's 5 s, so that IoT's limit is the one that bites.
        return {
          ...fn,
          timeoutSeconds: 30,
          handler: async (event, lambdaContext) => {
            if (slow.delayMs > 0) {
              slow.calls++;
              await sleep(slow.delayMs);
            }
            return fn.handler(event, lambdaContext);
          },
        };
      });
      if (typeof geolocation !== 'object') return { ...wiring, functions };
      const rebuilt = bootstrapWithGeo(context, keysDir, geolocation, audit);
      return {
        ...wiring,
        functions,
        bootstrapHandler: rebuilt.handler,
        dispose: async () => {
          rebuilt.dispose();
          await wiring.dispose?.();
        },
      };
    },
  });

  const homeRegion = cloud.regions[0]?.region ?? 'us-east-1';
  const dynamoEndpoint = cloud.dynamo?.endpoint ?? '';
  const dynamoClient = new DynamoDBClient({ region: homeRegion, endpoint: dynamoEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const registry = new DeviceRegistry({ client: dynamoClient, tableName: REGISTRY_TABLE });
  const fleetKey = createPrivateKey(readFileSync(productKeyPaths(keysDir).fleetSigningKeyPath, 'utf8'));
  const rootCa = readFileSync(cloud.paths.rootCa, 'utf8');
  const claim = { cert: readFileSync(cloud.paths.claimCert, 'utf8'), key: readFileSync(cloud.paths.claimKey, 'utf8') };
  const ticketKeyPem = readFileSync(join(keysDir, 'ticket-signing.key'), 'utf8');
  for (const secret of [claim.key, ticketKeyPem, readFileSync(productKeyPaths(keysDir).fleetSigningKeyPath, 'utf8')]) {
    audit.watchForever(pemFingerprint(secret));
  }

  let dynamoStopped = false;
  let restarted: LocalDynamo | undefined;

  return {
    cloud,
    registry,
    dynamoClient,
    fleetKey,
    rootCa,
    claim,
    homeRegion,
    ticketSigner: ed25519Signer(TICKET_KEY_ID, ticketKeyPem),
    deviceEnvironment(onSecret) {
      return {
        bootstrapUrl: cloud.bootstrapUrl ?? '',
        ca: rootCa,
        claim,
        fleetKey,
        target: (region) => {
          const endpoint = cloud.region(region).endpoint;
          return { address: endpoint.address, port: endpoint.port, servername: endpoint.host };
        },
        ...(onSecret ? { onSecret } : {}),
      };
    },
    async enroll(thingNames) {
      const report = await bulkEnroll(
        thingNames.map((thingName) => ({ thingName })),
        { client: dynamoClient, tableName: REGISTRY_TABLE },
      );
      if (report.counts.failed > 0 || report.counts.conflict > 0) throw new Error(`enrolment failed: ${JSON.stringify(report.counts)}`);
    },
    setHookDelay(ms) {
      if (!options.slowHookRegion) throw new Error('no slow hook region was configured');
      slow.delayMs = ms;
    },
    slowHookCalls: () => slow.calls,
    async stopDynamo() {
      if (!dataDir || !cloud.dynamo) throw new Error('dynalite restarts need a persistent cloud');
      await (restarted ?? cloud.dynamo).close();
      restarted = undefined;
      dynamoStopped = true;
    },
    async startDynamo() {
      if (!dataDir || !cloud.dynamo) throw new Error('dynalite restarts need a persistent cloud');
      // On a thread of its own, as the cloud starts it.
      restarted = await startDynalite({ port: cloud.dynamo.port, dataDir: join(dataDir, 'dynamodb'), thread: true });
    },
    stopBroker: (region) => cloud.region(region).dataPlane.close(),
    async startBroker(region) {
      const { endpoint, dataPlane } = cloud.region(region);
      await dataPlane.listen(endpoint.port, endpoint.address);
    },
    async close() {
      // Presence events run the confirmation asynchronously, and the cloud's stop does not wait
      // for those: one still running when dynalite closes makes dynalite throw an uncaught
      // "Database is closed". No new connections, then a moment for the last ones to finish.
      await Promise.all(cloud.regions.map((r) => cloud.region(r.region).dataPlane.close()));
      await sleep(QUIESCE_MS);
      dynamoClient.destroy();
      if (restarted) await restarted.close();
      try {
        await cloud.stop();
      } catch (error) {
        // The cloud closes the dynalite it started; after a restart that one is long closed.
        const errors = error instanceof AggregateError ? error.errors : [error];
        const unexpected = errors.filter((e: unknown) => !(dynamoStopped && e instanceof Error && 'code' in e && e.code === 'ERR_SERVER_NOT_RUNNING'));
        if (unexpected.length > 0) throw error;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A suite's cloud and the audit of everything it writes. */
export interface AuditedCloud {
  readonly audit: LogAudit;
  readonly rc: ReliabilityCloud;
  /** What devices need to reach the cloud, every secret they handle watched for by the audit. */
  readonly env: DeviceEnvironment;
  /** Gives the process output back, then stops the cloud. */
  close(): Promise<void>;
}

/**
 * What every fault and hostile suite starts with: a log audit that taps the process output
 * before the cloud writes its first line, and the cloud logging through it.
 */
export async function startAuditedCloud(options: Omit<ReliabilityCloudOptions, 'audit'> = {}): Promise<AuditedCloud> {
  const audit = createLogAudit();
  const restoreOutput = audit.tapProcessOutput();
  let rc: ReliabilityCloud;
  try {
    rc = await startReliabilityCloud({ ...options, audit });
  } catch (error) {
    restoreOutput();
    throw error;
  }
  return {
    audit,
    rc,
    env: rc.deviceEnvironment((secret) => audit.watch(secret)),
    close: async () => {
      restoreOutput();
      await rc.close();
    },
  };
}
