/**
 * The device client as users install it: built, packed from device/, and installed with
 * `npm install --omit=dev <tarball>` into an empty directory (test/packages/support/install.ts).
 *
 * - `installed_size_mb`: `du -sk` of that node_modules, in MiB;
 * - `installed_size_one_platform_mb`: the same with only this machine's aws-crt binary, what a
 *   device image keeps (device/README.md, "On a device image");
 * - `start_to_first_request_ms`: from spawning `node <installed iot-provision>` to its first
 *   bootstrap request arriving at a local HTTPS server, median of several starts after one
 *   warm-up (node's start, loading the bundle, aws-crt's native binary and the device's files,
 *   signing, the TLS handshake). The server refuses the request, so the client exits at once.
 *
 *   npx tsx bench/device-package.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createCertificateAuthority, generateDeviceKey, issueClientCertificate, issueServerCertificate } from '@global-iot/local/pki.js';
import { buildPackage } from '@global-iot/tools/build-package.js';
import { REPO_ROOT } from '../test/helpers/packages.js';
import { type Installed, packAndInstall } from '../test/packages/support/install.js';
import { isMain, percentile, round } from './stats.js';

const STARTS = 9;

function duKiB(path: string): number {
  return Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]);
}

/** aws-crt's folder for this machine's binary, as its loader names it (`linux-x64-glibc`, ...). */
function crtPlatformDir(): string {
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  const runtime = process.platform !== 'linux' ? 'cruntime' : report.header?.glibcVersionRuntime !== undefined ? 'glibc' : 'musl';
  return `${process.platform}-${process.arch}-${runtime}`;
}

function sizes(installed: Installed): Record<string, number> {
  const modules = join(installed.dir, 'node_modules');
  const binaries = join(modules, 'aws-crt', 'dist', 'bin');
  const others = readdirSync(binaries).filter((name) => name !== crtPlatformDir());
  const total = duKiB(modules);
  const droppable = others.reduce((sum, name) => sum + duKiB(join(binaries, name)), 0);
  return {
    'device-package.installed_size_mb': round(total / 1024, 1),
    'device-package.installed_size_one_platform_mb': round((total - droppable) / 1024, 1),
  };
}

/** The files a device is given, made for the run: no key material sits in the source. */
function deviceFiles(dir: string, caPem: string, claim: { certificatePem: string; privateKeyPem: string }): string[] {
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const signingKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return [
    '--thing-name', 'bench-device',
    '--signing-key', write('signing.key', signingKey),
    '--claim-cert', write('claim.crt', claim.certificatePem),
    '--claim-key', write('claim.key', claim.privateKeyPem),
    '--ca', write('ca.pem', caPem),
    '--out', join(dir, 'out'),
  ];
}

async function startToFirstRequest(installed: Installed): Promise<number> {
  const ca = createCertificateAuthority({ commonName: 'bench bootstrap CA' }, new Date());
  const tls = issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, new Date());
  const claimKey = await generateDeviceKey('ec-p256');
  const claim = { certificatePem: issueClientCertificate(ca, claimKey.spki, new Date()).certificatePem, privateKeyPem: claimKey.privateKeyPem };
  const dir = mkdtempSync(join(tmpdir(), 'bench-device-start-'));
  let arrived: (() => void) | undefined;
  const server = createServer({ key: tls.privateKeyPem, cert: tls.certificatePem }, (req, res) => {
    arrived?.();
    // A refusal the client does not retry: it exits as soon as it has read it.
    res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'BENCH', message: 'measured' }));
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const args = [installed.bin('iot-provision'), ...deviceFiles(dir, ca.certificatePem, claim)];
  args.push('--bootstrap-url', `https://localhost:${(server.address() as AddressInfo).port}/bootstrap`);
  // Plain node: nothing the benchmark itself was started with (a TypeScript loader) is passed on.
  const { NODE_OPTIONS: _loader, ...env } = process.env;
  const samples: number[] = [];
  try {
    for (let i = 0; i <= STARTS; i++) {
      const request = new Promise<number>((resolve) => (arrived = () => resolve(performance.now())));
      const started = performance.now();
      const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const at = await Promise.race([request, exited.then(() => Number.NaN)]);
      await exited;
      if (Number.isNaN(at)) throw new Error('iot-provision exited before its bootstrap request');
      // The first start warms the file cache, as a device's second boot would find it.
      if (i > 0) samples.push(at - started);
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return round(percentile(samples.sort((a, b) => a - b), 50), 1);
}

export async function benchDevicePackage(): Promise<Record<string, number>> {
  await buildPackage(join(REPO_ROOT, 'device'));
  const installed = await packAndInstall('device');
  try {
    return { ...sizes(installed), 'device-package.start_to_first_request_ms': await startToFirstRequest(installed) };
  } finally {
    rmSync(join(installed.dir, '..'), { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const figures = await benchDevicePackage();
  for (const [name, value] of Object.entries(figures)) console.log(`${name.padEnd(48)} ${value}`);
  process.exit(0);
}
