import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeolocateDeps, ipstackProvider } from '@global-iot/bootstrap-service/geolocate.js';
import { loadGeoTable, resolveGeoTablePath } from '@global-iot/core/geo/index.js';
import { selfSignedServerCert } from '../helpers/tls.js';
import { auditSystem, settleConfirmations, type SystemAudit } from './support/audit.js';
import { REGION_ADDRESSES, type ReliabilityCloud, startReliabilityCloud } from './support/cloud.js';
import { type DeviceEnvironment, type DeviceResult, type DeviceSpec, runDevice } from './support/device.js';
import { runFleet } from './support/fleet.js';
import { createLogAudit, type LogAudit } from './support/log-audit.js';
import { reliabilityScale } from './support/scale.js';

/**
 * Faults in what the flow depends on: the pre-provisioning hook answering after IoT's 5 s, and
 * geolocation failing (the table finding nothing, the remote provider failing in every way an
 * HTTPS service can, the lookup itself throwing). Devices must end provisioned exactly once, or
 * stay cleanly retryable while the fault lasts.
 */

const scale = reliabilityScale();
const SLOW_REGION = 'ap-northeast-1';
/** Longer than IoT's 5 s for the hook. */
const SLOW_HOOK_MS = 6_000;

type ProviderMode = 'status-500' | 'hang' | 'garbage' | 'reset' | 'huge';
const PROVIDER_MODES: readonly ProviderMode[] = ['status-500', 'hang', 'garbage', 'reset', 'huge'];

/** An ipstack-compatible provider that fails every request, each in the next way. */
async function startFailingProvider(): Promise<{ url: string; ca: Buffer; requests: () => number; close: () => Promise<void> }> {
  const tls = selfSignedServerCert();
  const sockets = new Set<Socket>();
  let requests = 0;
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const mode = PROVIDER_MODES[requests++ % PROVIDER_MODES.length];
    req.resume();
    switch (mode) {
      case 'status-500':
        res.writeHead(500).end('{"error":"internal"}');
        return;
      case 'hang':
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"latitude": "north", ');
        return;
      case 'reset':
        req.socket.destroy();
        return;
      default:
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"latitude": 1, "pad": "${'x'.repeat(100_000)}"}`);
    }
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    ca: tls.cert,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

type GeoMode = 'working' | 'provider-only' | 'lookup-throws';

let audit: LogAudit;
let rc: ReliabilityCloud;
let env: DeviceEnvironment;
let provider: Awaited<ReturnType<typeof startFailingProvider>>;
let restoreOutput: () => void;
const geo = { mode: 'working' as GeoMode, providerErrors: 0 };

beforeAll(async () => {
  audit = createLogAudit();
  restoreOutput = audit.tapProcessOutput();
  provider = await startFailingProvider();
  const table = existsSync(resolveGeoTablePath()) ? loadGeoTable() : undefined;
  const deps: GeolocateDeps = {
    lookup: (ip) => {
      if (geo.mode === 'lookup-throws') throw new Error('the geolocation table could not be read');
      return geo.mode === 'provider-only' ? undefined : table?.lookup(ip);
    },
    provider: ipstackProvider({ url: provider.url, apiKey: 'reliability-test-key', timeoutMs: 300, ca: provider.ca }),
    onProviderError: () => {
      geo.providerErrors++;
    },
  };
  rc = await startReliabilityCloud({ audit, geolocation: deps, slowHookRegion: SLOW_REGION });
  env = rc.deviceEnvironment((s) => audit.watch(s));
});

afterAll(async () => {
  restoreOutput?.();
  await rc?.close();
  await provider?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const networks = Object.values(REGION_ADDRESSES);

function specs(prefix: string, count: number, network: (i: number) => string): DeviceSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    thingName: `${prefix}-${i}`,
    sourceIp: `${network(i)}.${(i % 250) + 1}`,
    certificateMode: i % 2 === 0 ? ('keys' as const) : ('csr' as const),
  }));
}

const failures = (results: readonly DeviceResult[]) => results.filter((r) => !r.ok).map((r) => `${r.thingName}: ${r.error ?? ''} ${r.trail.join(' | ')}`);

async function finalState(results: readonly DeviceResult[]): Promise<SystemAudit> {
  await settleConfirmations(rc);
  return auditSystem(rc, { results });
}

describe('geolocation failing mid-run', () => {
  it('sends devices it cannot place to the default region, also when the lookup itself throws', { timeout: 180_000 }, async () => {
    // Prepare
    const main = specs('geo', scale.faultDevices, (i) => networks[i % networks.length] ?? '');
    const unplaced = specs('geo-unplaced', 4, () => REGION_ADDRESSES['ap-southeast-2'] ?? '');
    const unserved = specs('geo-throws', 3, () => REGION_ADDRESSES['sa-east-1'] ?? '');
    await rc.enroll([...main, ...unplaced, ...unserved].map((s) => s.thingName));

    // Act
    const fleet = runFleet(env, main, { concurrency: Math.min(main.length, 10) });
    await sleep(500);
    geo.mode = 'provider-only';
    const unplacedResults = await Promise.all(unplaced.map((spec) => runDevice(env, spec)));
    geo.mode = 'lookup-throws';
    const throwing = Promise.all(unserved.map((spec) => runDevice(env, spec)));
    await sleep(1_500);
    geo.mode = 'working';
    const results = [...(await fleet).results, ...unplacedResults, ...(await throwing)];
    const state = await finalState(results);
    const throwingResults = results.filter((r) => r.thingName.startsWith('geo-throws-'));
    const internalErrors = throwingResults.reduce((n, r) => n + (r.bootstrapRefusals['INTERNAL_ERROR'] ?? 0), 0);
    console.log(JSON.stringify({ fault: 'geolocation', providerRequests: provider.requests(), providerErrors: geo.providerErrors, bootstrap500WhileLookupThrew: internalErrors }));

    // Assess
    expect(failures(results)).toEqual([]);
    expect(state.problems).toEqual([]);
    expect(state).toMatchObject({ provisioned: results.length, awaitingConfirmation: 0, retryable: 0, orphanActiveCertificates: 0 });
    // Every way the provider failed was survived, within its 300 ms limit, and counted.
    expect(provider.requests()).toBeGreaterThanOrEqual(unplaced.length);
    // Each provider failure is reported, and so is each throwing lookup (one per request).
    expect(geo.providerErrors).toBeGreaterThan(provider.requests());
    expect(unplacedResults.map((r) => r.region)).toEqual(unplaced.map(() => rc.homeRegion));
    // A throwing lookup is an unknown location: default region, first time, never a 500.
    expect(internalErrors).toBe(0);
    expect(throwingResults.map((r) => r.region)).toEqual(unserved.map(() => rc.homeRegion));
  });
});

describe('a pre-provisioning hook slower than 5 s in one region', () => {
  it('gets RegisterThing refused as AccessDenied, and the devices go through once it is fast again', { timeout: 180_000 }, async () => {
    // Prepare
    const devices = specs('slow-hook', 3, () => REGION_ADDRESSES[SLOW_REGION] ?? '');
    await rc.enroll(devices.map((s) => s.thingName));
    rc.setHookDelay(SLOW_HOOK_MS);

    // Act
    const running = Promise.all(devices.map((spec) => runDevice(env, spec)));
    const deadline = Date.now() + 60_000;
    while (rc.slowHookCalls() < devices.length && Date.now() < deadline) await sleep(100);
    // Past IoT's limit for every one of those calls: each was refused.
    await sleep(5_500);
    const during = await auditSystem(rc);
    const provisionedDuring: string[] = [];
    for await (const record of rc.registry.scan({ status: 'provisioned', region: SLOW_REGION })) provisionedDuring.push(record.thing_name);
    rc.setHookDelay(0);
    const results = await running;
    const state = await finalState(results);
    const records = new Map<string, number>();
    for await (const record of rc.registry.scan({ region: SLOW_REGION })) records.set(record.thing_name, record.provision_attempts ?? 0);

    // Assess
    expect(during.problems).toEqual([]);
    expect(provisionedDuring.filter((name) => name.startsWith('slow-hook-'))).toEqual([]);
    expect(failures(results)).toEqual([]);
    expect(results.map((r) => r.rejections['403 AccessDenied'] ?? 0).every((n) => n >= 1)).toBe(true);
    expect(results.map((r) => r.region)).toEqual(devices.map(() => SLOW_REGION));
    expect(state.problems).toEqual([]);
    expect(state).toMatchObject({ awaitingConfirmation: 0, retryable: 0, orphanActiveCertificates: 0 });
    // The late decision allowed this very certificate: retrying it cost no attempt.
    expect(devices.map((d) => records.get(d.thingName))).toEqual(devices.map(() => 1));
  });
});

describe('a hook that stays slower than IoT waits', () => {
  let slowCloud: ReliabilityCloud;

  beforeAll(async () => {
    // IoT's limit and the delay scaled down from 5 s, so that a device's whole retry budget fits in seconds.
    slowCloud = await startReliabilityCloud({ audit, demo: false, geolocation: 'none', slowHookRegion: 'us-east-1', hookTimeoutMs: 300 });
  });

  afterAll(async () => {
    await slowCloud?.close();
  });

  it('spends the attempts on certificates IoT never activated, leaving the device to an operator reset, never half-provisioned', { timeout: 120_000 }, async () => {
    // Prepare
    const slowEnv = slowCloud.deviceEnvironment((s) => audit.watch(s));
    const device: DeviceSpec = { thingName: 'stays-slow-0', certificateMode: 'keys' };
    // The device the README describes: after a refused RegisterThing, back to the bootstrap (a
    // second later: by then the hook's late decision has landed).
    const limits = { maxRounds: 5, deadlineMs: 60_000, outcomeWindowMs: 1_000, minBackoffMs: 1_000, maxBackoffMs: 1_000, sameTokenRetries: 0 };
    await slowCloud.enroll([device.thingName]);
    slowCloud.setHookDelay(400);

    // Act
    const slow = await runDevice(slowEnv, device, limits);
    await sleep(1_000);
    const stuckRecord = await slowCloud.registry.get(device.thingName);
    const stuckState = await auditSystem(slowCloud);
    slowCloud.setHookDelay(0);
    const fastButStuck = await runDevice(slowEnv, device, { ...limits, maxRounds: 2, minBackoffMs: 0 });
    await slowCloud.registry.reset(device.thingName, 'reliability test: attempts spent while the hook was slow');
    const afterReset = await runDevice(slowEnv, device);
    await settleConfirmations(slowCloud);
    const finalState = await auditSystem(slowCloud, { results: [afterReset] });

    // Assess
    expect(slow.ok).toBe(false);
    expect(stuckRecord).toMatchObject({ prov_status: 'provisioning', provision_attempts: 3 });
    expect(stuckState.problems).toEqual([]);
    expect(stuckState).toMatchObject({ retryable: 1, orphanActiveCertificates: 0 });
    expect(fastButStuck.ok).toBe(false);
    expect(finalState.problems).toEqual([]);
    expect(finalState).toMatchObject({ provisioned: 1, orphanActiveCertificates: 0 });
  });
});

describe('the log', () => {
  it('holds no private key, ticket, signature or provider key after the faults', () => {
    // Prepare
    audit.watchForever('reliability-test-key');

    // Act
    const leaks = audit.violations();

    // Assess
    expect(audit.lineCount()).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  });
});
