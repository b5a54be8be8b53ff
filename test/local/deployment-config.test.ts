import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '@global-iot/core/errors.js';
import { type LocalCloud, startLocalCloud } from '@global-iot/local/cloud.js';
import { loadLocalDeployment } from '@global-iot/local/deployment-config.js';
import { cloudOptions, loadMainDeployment, parseMainOptions } from '@global-iot/local/main.js';
import { parseDemoArgs } from '@global-iot/local/fleet/main.js';
import { productKeyPaths } from '@global-iot/local/product.js';
import { OPS_BIN, REPO_ROOT } from '../helpers/packages.js';

/**
 * `--config <file>` on `npm run cloud` and `npm start`: the deployment configuration drives the
 * local cloud. The README's examples (local/README.md, "Deployment settings") run here as
 * written there: the files in local/examples/, the ops CLI to enrol, openssl to sign, curl to post.
 */

const run = promisify(execFile);
const EXAMPLES = join(REPO_ROOT, 'local', 'examples');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-config-'));
  dirs.push(dir);
  return dir;
}

function writeJson(dir: string, name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const base = { homeRegion: 'us-east-1', regions: ['us-east-1', 'eu-central-1'], defaultRegion: 'us-east-1' };

describe('--config: reading and validating the file', () => {
  it('reads a deployment configuration, or a cdk.json holding one, with its fleet public keys', () => {
    // Prepare
    const dir = tempDir();
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const plain = writeJson(dir, 'plain.json', { ...base, legacySignatures: true, fleetPublicKeys: [pem], infra: { stackPrefix: 'X' } });
    const cdk = writeJson(dir, 'cdk.json', { app: 'x', context: { config: { ...base, ticketTtlSeconds: 120 }, fleetPublicKeys: [pem] } });

    // Act
    const fromPlain = loadLocalDeployment(plain);
    const fromCdk = loadLocalDeployment(cdk);

    // Assess
    expect(fromPlain.config).toMatchObject({ regions: base.regions, legacySignatures: true });
    expect(fromPlain.fleetPublicKeys).toEqual([pem]);
    expect(fromCdk.config.ticketTtlSeconds).toBe(120);
    expect(fromCdk.fleetPublicKeys).toEqual([pem]);
  });

  it.each([
    ['a missing file', 'missing.json', undefined, UsageError, /cannot read the configuration file/],
    ['broken JSON', 'broken.json', '{', UsageError, /is not valid JSON/],
    ['an unknown region', 'c.json', { ...base, regions: ['us-east-1', 'mars-north-1'] }, ConfigError, /regions\.1: not an AWS region code/],
    ['a residency rule outside the regions', 'c.json', { ...base, residency: { CA: ['ca-central-1'] } }, ConfigError, /residency\.CA: ca-central-1 is not an enabled region/],
    ['a trusted proxy of an unknown type', 'c.json', { ...base, trustedProxy: { type: 'nginx' } }, ConfigError, /trustedProxy\.type/],
    ['a ticket lifetime out of range', 'c.json', { ...base, ticketTtlSeconds: 5 }, ConfigError, /ticketTtlSeconds/],
    ['a private key among the fleet keys', 'c.json', { ...base, fleetPublicKeys: [generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()] }, ConfigError, /fleetPublicKeys\[0\] is a private key/],
    ['a fleet key that is not a key', 'c.json', { ...base, fleetPublicKeys: ['hello'] }, ConfigError, /fleetPublicKeys\[0\]: public key is not a valid PEM/],
  ])('refuses %s, naming the file and the setting', (_label, name, content, errorClass, message) => {
    // Prepare
    const dir = tempDir();
    const path = content === undefined ? join(dir, name) : writeJson(dir, name, content);

    // Act
    const attempt = () => loadMainDeployment({ config: path });

    // Assess
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(path);
    expect(attempt).toThrow(message);
    expect(() => loadLocalDeployment(path)).toThrow(errorClass);
  });

  it('refuses --regions beside --config on both commands: the file says which regions run', () => {
    // Act
    const cloud = () => parseMainOptions(['--config', 'x.json', '--regions', 'us-east-1']);
    const demo = () => parseDemoArgs(['--config', 'x.json', '--regions', 'us-east-1'], () => undefined);

    // Assess
    expect(cloud).toThrow(/--regions: the regions come from --config/);
    expect(demo).toThrow(/--regions: the regions come from --config/);
  });

  it.each([
    ['npm run cloud', 'local/main.ts'],
    ['npm start', 'local/fleet/main.ts'],
  ])('%s stops with exit code 2 and one line naming the setting', async (_label, script) => {
    // Prepare
    const path = writeJson(tempDir(), 'bad.json', { ...base, defaultRegion: 'eu-west-1' });

    // Act
    const failure = await run(process.execPath, ['--import', 'tsx', script, '--config', path], { cwd: REPO_ROOT }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );

    // Assess
    expect(failure?.code).toBe(2);
    const lines = (failure?.stderr ?? '').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(path);
    expect(lines[0]).toContain('defaultRegion: eu-west-1 is not one of the enabled regions');
  });
});

/** `npm run cloud -- <argv>` in this process, on free ports, with its files under `dir`. */
async function startCloud(argv: string[], dir: string): Promise<LocalCloud> {
  const options = parseMainOptions([...argv, '--pki-dir', dir, '--log-level', 'silent']);
  return startLocalCloud(cloudOptions(options, loadMainDeployment(options)));
}

async function enrol(cloud: LocalCloud, configFile: string, thing: string, extra: string[] = []): Promise<void> {
  await run(process.execPath, [OPS_BIN, 'enroll', thing, ...extra, '--config', configFile, '--endpoint-dynamodb', cloud.dynamo?.endpoint ?? '']);
}

async function opensslSign(keyFile: string, bytes: string, dir: string): Promise<string> {
  const data = join(dir, 'signed-bytes');
  writeFileSync(data, bytes);
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-sign', keyFile, data], { encoding: 'buffer' });
  return stdout.toString('base64');
}

async function curl(cloud: LocalCloud, body: unknown, headers: string[] = []): Promise<{ status: number; body: Record<string, unknown> }> {
  const { stdout } = await run('curl', [
    '-s', '-w', '\n%{http_code}', '--cacert', cloud.paths.rootCa,
    '-H', 'content-type: application/json', ...headers.flatMap((h) => ['-H', h]),
    '-d', JSON.stringify(body), `${cloud.bootstrapUrl ?? ''}/bootstrap`,
  ]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: JSON.parse(stdout.slice(0, at)) as Record<string, unknown> };
}

/** A v1 request signed with the local cloud's fleet key, as the README's shell line makes it. */
async function signedRequest(cloud: LocalCloud, dir: string, thing: string): Promise<Record<string, unknown>> {
  const timestamp = Date.now();
  const keyFile = productKeyPaths(join(dir, 'keys')).fleetSigningKeyPath;
  const sig = await opensslSign(keyFile, `iot-bootstrap-v1\n${thing}\n${timestamp}`, dir);
  return { 'thing-name': thing, 'thing-name-sig': sig, timestamp };
}

describe('--config: every setting drives the local cloud', () => {
  it('takes draining, the skew, the ticket lifetime, the template and the table from the file', async () => {
    // Prepare
    const dir = tempDir();
    const configFile = writeJson(dir, 'settings.json', {
      homeRegion: 'eu-central-1',
      regions: ['eu-central-1', 'us-east-1'],
      defaultRegion: 'us-east-1',
      draining: ['us-east-1'],
      timestampSkewSeconds: 60,
      ticketTtlSeconds: 120,
      templateName: 'LocalSettingsFleet',
      tableName: 'local-settings-registry',
    });
    const cloud = await startCloud(['--config', configFile], dir);
    try {
      await enrol(cloud, configFile, 'sensor-settings');
      const stale = await signedRequest(cloud, dir, 'sensor-settings');
      stale['timestamp'] = Number(stale['timestamp']) - 90_000;

      // Act
      const refused = await curl(cloud, stale);
      const answer = await curl(cloud, await signedRequest(cloud, dir, 'sensor-settings'));
      const templates = cloud.regions.map((r) => cloud.region(r.region).state.getTemplate('LocalSettingsFleet') !== undefined);

      // Assess
      expect(refused.body['code']).toBe('REQUEST_EXPIRED');
      expect(answer.body).toMatchObject({ status: 'success', region: 'eu-central-1', templateName: 'LocalSettingsFleet' });
      const lifetime = Date.parse(String(answer.body['ticketExpiresAt'])) - Date.now();
      expect(lifetime).toBeGreaterThan(100_000);
      expect(lifetime).toBeLessThanOrEqual(120_000);
      expect(templates).toEqual([true, true]);
    } finally {
      await cloud.stop();
    }
  });
});

describe('--config: the README examples', () => {
  it('legacy-signatures.json: the original sample request (RSA over the bare name) gets 200 through curl', async () => {
    // Prepare
    const dir = tempDir();
    const configFile = join(EXAMPLES, 'legacy-signatures.json');
    await run('openssl', ['genrsa', '-out', join(dir, 'legacy.key'), '2048']);
    await run('openssl', ['rsa', '-in', join(dir, 'legacy.key'), '-pubout', '-out', join(dir, 'legacy.pub.pem')]);
    const cloud = await startCloud(['--config', configFile], dir);
    try {
      await enrol(cloud, configFile, 'sensor-0042', ['--public-key-file', join(dir, 'legacy.pub.pem')]);
      const sig = await opensslSign(join(dir, 'legacy.key'), 'sensor-0042', dir);

      // Act
      const answer = await curl(cloud, { 'thing-name': 'sensor-0042', 'thing-name-sig': sig });

      // Assess
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ status: 'success', region: 'us-east-1' });
    } finally {
      await cloud.stop();
    }
  });

  it('residency.json: a Canadian device stays in ca-central-1 though us-west-2 is nearer; a US one does not', async () => {
    // Prepare
    const dir = tempDir();
    const configFile = join(EXAMPLES, 'residency.json');
    const cloud = await startCloud(['--config', configFile, '--demo'], dir);
    try {
      await enrol(cloud, configFile, 'sensor-vancouver');
      await enrol(cloud, configFile, 'sensor-portland');

      // Act
      const vancouver = await curl(cloud, await signedRequest(cloud, dir, 'sensor-vancouver'), ['x-demo-source-ip: 142.103.1.1']);
      const portland = await curl(cloud, await signedRequest(cloud, dir, 'sensor-portland'), ['x-demo-source-ip: 52.32.1.1']);

      // Assess
      expect(cloud.regions.map((r) => r.region)).toEqual(['us-west-2', 'ca-central-1']);
      expect(vancouver.body).toMatchObject({ status: 'success', region: 'ca-central-1', fallbacks: [] });
      expect(portland.body).toMatchObject({ status: 'success', region: 'us-west-2' });
    } finally {
      await cloud.stop();
    }
  });

  it('trusted-proxy.json: the caller is the address the trusted proxy appended, not the left-most one', async () => {
    // Prepare
    const dir = tempDir();
    const configFile = join(EXAMPLES, 'trusted-proxy.json');
    const cloud = await startCloud(['--config', configFile], dir);
    try {
      await enrol(cloud, configFile, 'sensor-berlin');

      // Act: 8.8.8.8 is what the client wrote; the proxy appended the Berlin address it saw.
      const answer = await curl(cloud, await signedRequest(cloud, dir, 'sensor-berlin'), ['X-Forwarded-For: 8.8.8.8, 81.169.145.1']);

      // Assess
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ region: 'eu-central-1' });
      expect(answer.body['distance']).toBeLessThan(600);
    } finally {
      await cloud.stop();
    }
  });
});
