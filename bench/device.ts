/**
 * Device-side benchmark: the CPU one device spends on its own, per provisioning, outside the
 * network: the key and CSR, the checks of the certificate AWS IoT answers with (CSR and
 * CreateKeysAndCertificate), and the store's files (load, bootstrapped, registered, confirmed;
 * not durable, 50 devices at a time, as the fleet simulator runs them). The fleet benchmark
 * shows the sum; this shows the parts.
 *
 * CPU is the whole process's (thread pool included); the store's figure also gives the main
 * thread's share, read from /proc (Linux only).
 *
 *   npx tsx bench/device.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import { assertCertificateMatchesKey, generateKeyAndCsr, parseCertificate } from '@global-iot/device/keys.js';
import { type BootstrappedState, FileStore } from '@global-iot/device/store.js';
import { createCertificateAuthority, generateDeviceKey, issueClientCertificate, verifyCsr } from '@global-iot/local/pki.js';
import { cpuMsSince, isMain, round } from './stats.js';

const ITERATIONS = 1_000;
const ROUNDS = 5;
const STORE_DEVICES = 1_000;
const STORE_CONCURRENCY = 50;
/** Distinct certificates the checks cycle through, made beforehand. */
const CASES = 200;

interface Cost {
  /** Process CPU (all threads), microseconds per call. */
  cpuUs: number;
  /** The main thread's on-CPU time, microseconds per call; NaN where /proc has no schedstat. */
  mainUs: number;
}

function mainThreadNs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

/** The median round of `rounds`, after one round of warm-up; `cleanUp` runs between rounds, untimed. */
async function cost(calls: number, rounds: number, run: () => Promise<void>, cleanUp: () => void = () => undefined): Promise<Cost> {
  await run();
  cleanUp();
  const samples: Cost[] = [];
  for (let r = 0; r < rounds; r++) {
    const cpu = process.cpuUsage();
    const main = mainThreadNs();
    await run();
    samples.push({ cpuUs: (cpuMsSince(cpu) * 1000) / calls, mainUs: (mainThreadNs() - main) / 1000 / calls });
    cleanUp();
  }
  samples.sort((a, b) => a.cpuUs - b.cpuUs);
  const median = samples[Math.floor(samples.length / 2)] ?? { cpuUs: Number.NaN, mainUs: Number.NaN };
  return { cpuUs: round(median.cpuUs, 1), mainUs: round(median.mainUs, 1) };
}

/**
 * Files of a device's size: what the store writes is opaque to it. The key is made for the run,
 * so no key material sits in the source.
 */
const STORED_CREDENTIALS = {
  certificatePem: `-----BEGIN CERTIFICATE-----\n${`${'A'.repeat(64)}\n`.repeat(9)}-----END CERTIFICATE-----\n`,
  privateKeyPem: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};

/** One store per device, in a fresh directory each, through a whole provisioning. */
async function storeProvisioning(base: string): Promise<void> {
  let next = 0;
  const device = async (i: number): Promise<void> => {
    const thingName = `bench-${i}`;
    const store = new FileStore(join(base, thingName), { durable: false });
    await store.load(thingName);
    const bootstrapped: BootstrappedState = {
      version: 1,
      step: 'bootstrapped',
      thingName,
      region: 'eu-central-1',
      endpoint: 'abc-ats.iot.eu-central-1.amazonaws.com',
      port: 8883,
      templateName: 'GlobalFleetProvisioning',
      updatedAt: new Date().toISOString(),
    };
    await store.saveBootstrapped(bootstrapped);
    const registered = { ...bootstrapped, step: 'registered' as const, certificateId: 'a'.repeat(64), deviceConfiguration: {} };
    await store.saveRegistered(registered, STORED_CREDENTIALS);
    await store.saveConfirmed({ ...registered, step: 'confirmed', confirmedAt: new Date().toISOString() });
  };
  await Promise.all(
    Array.from({ length: STORE_CONCURRENCY }, async () => {
      for (let i = next++; i < STORE_DEVICES; i = next++) await device(i);
    }),
  );
}

export async function benchDevice(): Promise<Record<string, number>> {
  const ca = createCertificateAuthority({ commonName: 'bench device CA' }, new Date());
  const csrCases = await Promise.all(
    Array.from({ length: CASES }, async (_, i) => {
      const made = await generateKeyAndCsr(`bench-${i}`);
      const issued = issueClientCertificate(ca, verifyCsr(made.csrPem).spki, new Date());
      return { privateKey: made.privateKey, certificatePem: issued.certificatePem, certificateId: issued.certificateId };
    }),
  );
  // What the local cloud's CreateKeysAndCertificate answers with: an EC key in SEC1 PEM.
  const keysCases = await Promise.all(
    Array.from({ length: CASES }, async () => {
      const key = await generateDeviceKey('ec-p256');
      const issued = issueClientCertificate(ca, key.spki, new Date());
      return { privateKeyPem: key.privateKeyPem, certificatePem: issued.certificatePem, certificateId: issued.certificateId };
    }),
  );
  const check = (certificatePem: string, key: Parameters<typeof assertCertificateMatchesKey>[1], certificateId: string): void => {
    const certificate = parseCertificate(certificatePem);
    assertCertificateMatchesKey(certificate, key);
    if (certificateIdOf(certificate) !== certificateId) throw new Error('the benchmark made a wrong certificate id');
  };

  const keyAndCsr = await cost(ITERATIONS, ROUNDS, async () => {
    for (let i = 0; i < ITERATIONS; i++) await generateKeyAndCsr(`bench-${i}`);
  });
  const checksCsr = await cost(ITERATIONS, ROUNDS, async () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const c = csrCases[i % CASES];
      if (c) check(c.certificatePem, c.privateKey, c.certificateId);
    }
  });
  const checksKeys = await cost(ITERATIONS, ROUNDS, async () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const c = keysCases[i % CASES];
      if (c) check(c.certificatePem, c.privateKeyPem, c.certificateId);
    }
  });

  const root = mkdtempSync(join(tmpdir(), 'bench-device-store-'));
  const base = join(root, 'devices');
  let store: Cost;
  try {
    store = await cost(STORE_DEVICES, ROUNDS, () => storeProvisioning(base), () => rmSync(base, { recursive: true, force: true }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  return {
    'device.key_and_csr_cpu_us': keyAndCsr.cpuUs,
    'device.certificate_checks_csr_cpu_us': checksCsr.cpuUs,
    'device.certificate_checks_keys_cpu_us': checksKeys.cpuUs,
    'device.store_cpu_us': store.cpuUs,
    'device.store_main_thread_us': store.mainUs,
  };
}

if (isMain(import.meta.url)) {
  const figures = await benchDevice();
  for (const [name, value] of Object.entries(figures)) console.log(`${name.padEnd(44)} ${value}`);
  process.exit(0);
}
