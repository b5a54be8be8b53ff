import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BOOTSTRAP_TIMING, realBootstrapClientDeps, requestBootstrap } from '@global-iot/device/bootstrap-client.js';
import { tlsHandshakeProbe } from '@global-iot/device/handshake-probe.js';
import { generateKeyAndCsr } from '@global-iot/device/keys.js';
import type { LifecycleOptions } from '@global-iot/device/lifecycle/options.js';
import type { MeasureSettings } from '@global-iot/device/measure.js';
import { createCrtTransport, type MqttProtocol, type MqttTarget, type MqttTransport } from '@global-iot/device/mqtt.js';
import {
  type CertificateMode,
  type DeviceIdentity,
  type ProvisionDeps,
  type ProvisionEvent,
  type ProvisionOptions,
  type ProvisionResult,
  provisionDevice,
  type StepName,
} from '@global-iot/device/provision.js';
import { FileStore } from '@global-iot/device/store.js';
import { DEMO_SOURCE_IP_HEADER } from '@global-iot/local/bootstrap-server.js';
import type { ProductCloud } from './cloud.js';

/** A device of the test fleet: enrolled with its own key, at a simulated public address. */
export interface TestDevice {
  thingName: string;
  signingKey: KeyObject;
  signingKeyPath: string;
  sourceIp: string;
  dir: string;
}

export async function enrollDevice(cloud: ProductCloud, thingName: string, sourceIp: string, keyType: 'ed25519' | 'ec' = 'ed25519'): Promise<TestDevice> {
  const pair = keyType === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await cloud.registry.enroll({ thingName, publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() });
  const dir = mkdtempSync(join(cloud.workDir, `device-${thingName}-`));
  const signingKeyPath = join(dir, 'signing.key');
  writeFileSync(signingKeyPath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  return { thingName, signingKey: pair.privateKey, signingKeyPath, sourceIp, dir };
}

export interface RunOptions {
  certificateMode?: CertificateMode;
  protocol?: MqttProtocol;
  afterStep?: (step: StepName) => Promise<void>;
  registerAttempts?: number;
  events?: ProvisionEvent[];
  measure?: Partial<MeasureSettings>;
  lifecycle?: LifecycleOptions;
  /** Where the device finds each region (default: the cloud's own ports); a test may cut a region off here. */
  resolveEndpoint?: (region: string, endpointAddress: string) => MqttTarget;
  /** The device's clock (default Date.now): a test moves it on to age a certificate. */
  now?: () => number;
  /** Wraps the device's MQTT transport: a test cuts a region off in the middle of a run here. */
  wrapTransport?: (transport: MqttTransport) => MqttTransport;
}

/** What `provisionDevice` is given for this device: the real store, HTTPS client and CRT transport. */
export function deviceSetup(cloud: ProductCloud, device: TestDevice, options: RunOptions = {}): { identity: DeviceIdentity; options: ProvisionOptions; deps: ProvisionDeps; events: ProvisionEvent[] } {
  const events: ProvisionEvent[] = options.events ?? [];
  const crt = createCrtTransport({
    protocol: options.protocol ?? 'mqtt311',
    caPem: cloud.rootCa,
    connectTimeoutMs: 3_000,
    operationTimeoutMs: 8_000,
  });
  const transport = options.wrapTransport ? options.wrapTransport(crt) : crt;
  const bootstrapOptions = {
    url: cloud.bootstrapUrl,
    ca: cloud.rootCa,
    ...DEFAULT_BOOTSTRAP_TIMING,
    maxAttempts: 3,
    headers: { [DEMO_SOURCE_IP_HEADER]: device.sourceIp },
  };
  const claim = { certificatePem: cloud.claimCert, privateKeyPem: cloud.claimKey };
  return {
    identity: { thingName: device.thingName, signingKey: device.signingKey, claim },
    options: {
      certificateMode: options.certificateMode ?? 'csr',
      ...(options.measure ? { measure: options.measure } : {}),
      ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
      // Short waits between registration tries: the tests check the order of events, not time.
      registerBackoffMs: 20,
      ...(options.registerAttempts !== undefined ? { registerAttempts: options.registerAttempts } : {}),
    },
    deps: {
      store: new FileStore(join(device.dir, 'out')),
      bootstrap: (makeBody) => requestBootstrap(makeBody, bootstrapOptions, realBootstrapClientDeps),
      transport,
      generateKeyAndCsr,
      probeHandshake: tlsHandshakeProbe({ claim, caPem: cloud.rootCa }),
      now: options.now ?? Date.now,
      onEvent: (event) => events.push(event),
      resolveEndpoint: options.resolveEndpoint ?? cloud.resolveEndpoint,
      ...(options.afterStep ? { afterStep: options.afterStep } : {}),
    },
    events,
  };
}

/** Runs the device flow in this process, with the real store, HTTPS client and CRT transport. */
export async function runDevice(cloud: ProductCloud, device: TestDevice, options: RunOptions = {}): Promise<{ result: ProvisionResult; events: ProvisionEvent[] }> {
  const setup = deviceSetup(cloud, device, options);
  const result = await provisionDevice(setup.identity, setup.options, setup.deps);
  return { result, events: setup.events };
}

/** Every file of a directory with its bytes, mode and modification time. */
export function snapshotDir(dir: string): Record<string, { text: string; mode: number; mtimeMs: number }> {
  const out: Record<string, { text: string; mode: number; mtimeMs: number }> = {};
  for (const name of readdirSync(dir).sort()) {
    const stat = statSync(join(dir, name));
    out[name] = { text: readFileSync(join(dir, name), 'utf8'), mode: stat.mode & 0o777, mtimeMs: stat.mtimeMs };
  }
  return out;
}

/** Polls until `check` returns a value, for effects the cloud applies asynchronously. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
