import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Agent } from 'node:https';
import { dirname, join } from 'node:path';
import { io } from 'aws-iot-device-sdk-v2';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { DEMO_SOURCE_IP_HEADER } from '../bootstrap-server.js';
import { DEFAULT_BOOTSTRAP_TIMING, realBootstrapClientDeps, requestBootstrap } from '@global-iot/device/bootstrap-client.js';
import { StepFailed } from '@global-iot/device/errors.js';
import { tlsHandshakeProbe } from '@global-iot/device/handshake-probe.js';
import { generateKeyAndCsr } from '@global-iot/device/keys.js';
import type { MeasureSettings } from '@global-iot/device/measure.js';
import { createCrtTransport, type MqttCredentials, type MqttProtocol, type MqttTarget } from '@global-iot/device/mqtt.js';
import { type CertificateMode, type ProvisionOptions, provisionDevice, type StepName, toEventError } from '@global-iot/device/provision.js';
import { FileStore } from '@global-iot/device/store.js';
import { type AddressRange, type Geolocator, simulatedAddress } from './addresses.js';
import type { DeviceOutcome, FleetRun } from './outcome.js';

/**
 * The fleet simulator: many devices, each with its own signing key and simulated source address,
 * each running the real device flow (the same `provisionDevice` the CLI runs, HTTPS to the
 * bootstrap, aws-crt MQTT over TLS to its region) in one process, a bounded number at a time.
 */

export interface SimulatedDevice {
  readonly thingName: string;
  readonly signingKey: KeyObject;
  readonly publicKeyPem: string;
  readonly sourceIp: string;
  readonly location?: { readonly lat: number; readonly lon: number; readonly country: string };
  readonly certificateMode: CertificateMode;
}

export interface FleetSpec {
  count: number;
  /** Thing names are `<prefix>-<index, 5 digits>`. */
  prefix: string;
  geo: Geolocator;
  ranges?: readonly AddressRange[];
  /** `mixed` alternates: even devices CSR, odd CreateKeysAndCertificate. */
  certificateMode: CertificateMode | 'mixed';
}

/** Keys alternate between Ed25519 and EC P-256: both are per-device key types the bootstrap accepts. */
export function createFleet(spec: FleetSpec): SimulatedDevice[] {
  return Array.from({ length: spec.count }, (_, index) => {
    const pair = index % 2 === 0 ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const { ip } = simulatedAddress(index, spec.ranges);
    const location = spec.geo.lookup(ip);
    return {
      thingName: `${spec.prefix}-${String(index).padStart(5, '0')}`,
      signingKey: pair.privateKey,
      publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      sourceIp: ip,
      ...(location !== undefined ? { location: { lat: location.lat, lon: location.lon, country: location.country } } : {}),
      certificateMode: spec.certificateMode === 'mixed' ? (index % 2 === 0 ? 'csr' : 'keys') : spec.certificateMode,
    };
  });
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      const item = items[index];
      if (item !== undefined) await work(item, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

/** Enrols every device in the registry with its own public key (what `ops enroll` does). */
export async function enrollFleet(registry: DeviceRegistry, devices: readonly SimulatedDevice[], concurrency = 16): Promise<void> {
  await forEachBounded(devices, concurrency, async (device) => {
    await registry.enroll({ thingName: device.thingName, publicKey: device.publicKeyPem, attributes: { fleet: 'demo' } });
  });
}

/**
 * OpenSSL (which the CRT uses for its trust store) reads SSL_CERT_FILE and SSL_CERT_DIR each time
 * it loads its defaults; Node's own TLS does not read them after start-up. Returns the undo.
 */
function pointDefaultTrustStoreAt(caPath: string): () => void {
  const saved = { file: process.env['SSL_CERT_FILE'], dir: process.env['SSL_CERT_DIR'] };
  process.env['SSL_CERT_FILE'] = caPath;
  process.env['SSL_CERT_DIR'] = dirname(caPath);
  return () => {
    for (const [name, value] of [['SSL_CERT_FILE', saved.file], ['SSL_CERT_DIR', saved.dir]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** What a device of the fleet must know of the deployment it provisions into (ProvisionOptions). */
export type FleetDeployment = Pick<ProvisionOptions, 'claimClientIdPrefix' | 'confirmationRuleName'>;

export interface FleetRunOptions {
  devices: readonly SimulatedDevice[];
  concurrency: number;
  bootstrapUrl: URL;
  /** Trusts the bootstrap's and the regions' server certificates. */
  caPem: string;
  /**
   * The same CA as a file. While the fleet runs, the CRT's default trust store is pointed at it:
   * otherwise every MQTT connection's TLS context first parses the whole system trust store
   * (about 8 ms of the main thread each), only for the CA setting to replace it.
   */
  caPath?: string;
  claim: MqttCredentials;
  /** The deployment's settings the devices follow (claim client-id prefix, confirmation rule). */
  deployment?: FleetDeployment;
  protocol: MqttProtocol;
  /** Each device keeps its files in `<outDir>/<thing name>/`. */
  outDir: string;
  /** fsync every write (as a device does); a simulator may skip it. */
  durable: boolean;
  /** Regions -> where they listen, when the answer's host alone does not say (see ProvisionDeps). */
  resolveEndpoint?: (region: string, endpointAddress: string) => MqttTarget;
  connectTimeoutMs?: number;
  operationTimeoutMs?: number;
  /** Measuring the offered regions (the device's defaults unless given). */
  measure?: Partial<MeasureSettings>;
  /** The bootstrap call's time-outs and attempts (the device's defaults unless given). */
  bootstrapTiming?: { readonly requestTimeoutMs?: number; readonly maxAttempts?: number };
  /** Further device options for every device (a scenario's lifecycle settings). */
  provisionOptions?: Partial<ProvisionOptions>;
  onDeviceDone?: (outcome: DeviceOutcome, done: number, failed: number) => void;
  now?: () => number;
}

export async function runFleet(options: FleetRunOptions): Promise<FleetRun> {
  const now = options.now ?? (() => performance.now());
  const wallClock = Date.now;
  // One event loop group and the TLS contexts for the whole fleet: machinery no server sees,
  // and sharing it keeps a few hundred devices cheap. Connections are never shared: each device
  // opens its own to the bootstrap and to IoT, with a TLS handshake of its own, as real ones do.
  const clientBootstrap = new io.ClientBootstrap();
  const transport = createCrtTransport({
    protocol: options.protocol,
    caPem: options.caPem,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    operationTimeoutMs: options.operationTimeoutMs ?? 10_000,
    clientBootstrap,
  });
  // One TLS context for every device's handshake probes, as for its MQTT connections.
  const probeHandshake = tlsHandshakeProbe({ claim: options.claim, caPem: options.caPem });
  const outcomes: DeviceOutcome[] = [];
  let failed = 0;
  const restoreTrustStore = options.caPath === undefined ? () => undefined : pointDefaultTrustStoreAt(options.caPath);
  const started = now();
  const cpuAtStart = process.cpuUsage();
  try {
    await forEachBounded(options.devices, options.concurrency, async (device) => {
      const steps: Partial<Record<StepName, number>> = {};
      const retries: Partial<Record<StepName, number>> = {};
      // The last answer's placement: the one the device went with.
      let placement: string | undefined;
      const deviceStarted = now();
      // The device's own keep-alive agent: its bootstrap retries may reuse its connection.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const bootstrapOptions = {
        url: options.bootstrapUrl,
        ca: options.caPem,
        ...DEFAULT_BOOTSTRAP_TIMING,
        ...options.bootstrapTiming,
        headers: { [DEMO_SOURCE_IP_HEADER]: device.sourceIp },
        agent,
      };
      let outcome: DeviceOutcome;
      try {
        const bootstrapDeps = {
          ...realBootstrapClientDeps,
          onRetry: () => {
            retries.bootstrap = (retries.bootstrap ?? 0) + 1;
          },
        };
        const result = await provisionDevice(
          { thingName: device.thingName, signingKey: device.signingKey, claim: options.claim },
          { certificateMode: device.certificateMode, ...options.deployment, ...(options.measure ? { measure: options.measure } : {}), ...options.provisionOptions },
          {
            store: new FileStore(join(options.outDir, device.thingName), { durable: options.durable }),
            bootstrap: (makeBody) => requestBootstrap(makeBody, bootstrapOptions, bootstrapDeps),
            transport,
            generateKeyAndCsr,
            probeHandshake,
            now: wallClock,
            onEvent: (event) => {
              // Summed: a measuring device makes the bootstrap step twice, and both count.
              if (event.status === 'ok' && event.durationMs !== undefined) steps[event.step] = (steps[event.step] ?? 0) + event.durationMs;
              if (event.status === 'ok' && event.step === 'bootstrap' && typeof event.detail?.['placement'] === 'string') placement = event.detail['placement'];
              if (event.status === 'retry') retries[event.step] = (retries[event.step] ?? 0) + 1;
            },
            ...(options.resolveEndpoint ? { resolveEndpoint: options.resolveEndpoint } : {}),
          },
        );
        outcome = {
          thingName: device.thingName,
          sourceIp: device.sourceIp,
          ...(device.location ? { location: device.location } : {}),
          ok: true,
          region: result.region,
          result: result.outcome,
          ...(placement !== undefined ? { placement } : {}),
          steps,
          totalMs: now() - deviceStarted,
          ...(Object.keys(retries).length > 0 ? { retries } : {}),
        };
      } catch (error) {
        failed += 1;
        const detail = toEventError(error);
        outcome = {
          thingName: device.thingName,
          sourceIp: device.sourceIp,
          ...(device.location ? { location: device.location } : {}),
          ok: false,
          steps,
          totalMs: now() - deviceStarted,
          ...(Object.keys(retries).length > 0 ? { retries } : {}),
          failure: {
            step: error instanceof StepFailed ? error.step : 'unknown',
            name: detail.name,
            message: detail.message,
            ...(detail.code !== undefined ? { code: detail.code } : {}),
            ...(detail.status !== undefined ? { status: detail.status } : {}),
          },
        };
      }
      agent.destroy();
      outcomes.push(outcome);
      options.onDeviceDone?.(outcome, outcomes.length, failed);
    });
  } finally {
    restoreTrustStore();
  }
  const cpu = process.cpuUsage(cpuAtStart);
  return { outcomes, elapsedMs: now() - started, concurrency: options.concurrency, cpuMs: (cpu.user + cpu.system) / 1000 };
}
