import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { automaticHostMode } from '@global-iot/local/host-mode.js';
import { REPO_ROOT } from '../helpers/packages.js';
import { DEFAULT_REGIONS, LocalCloudConfigError, type LocalCloud, resolveRegionEndpoints } from '@global-iot/local/cloud.js';
import { UsageError } from '@global-iot/core/errors.js';
import { cloudOptions, HelpShown, instructions, parseMainOptions } from '@global-iot/local/main.js';

/** `npm run cloud`'s command line, and what it prints. */

describe('parseMainOptions', () => {
  it('defaults to five regions on four continents, the automatic host mode, with AWS key type', () => {
    // Act
    const options = parseMainOptions([]);

    // Assess
    expect(options).toMatchObject({
      regions: [...DEFAULT_REGIONS],
      hostMode: 'auto',
      demo: false,
      deviceKey: 'rsa-2048',
      accountId: '123456789012',
      logLevel: 'info',
    });
    expect(options.dataDir).toBeUndefined();
  });

  it('reads every flag', () => {
    // Act
    const options = parseMainOptions([
      '--regions', 'us-east-1, eu-west-1',
      '--data-dir', '/tmp/cloud',
      '--demo',
      '--host-mode', 'loopback-ips',
      '--device-key', 'ec-p256',
      '--bootstrap-port', '8443',
      '--log-level', 'warn',
    ]);

    // Assess
    expect(options).toMatchObject({
      regions: ['us-east-1', 'eu-west-1'],
      dataDir: '/tmp/cloud',
      demo: true,
      hostMode: 'loopback-ips',
      deviceKey: 'ec-p256',
      bootstrapPort: 8443,
      logLevel: 'warn',
    });
  });

  it.each([
    [['--regions', 'us-east-1,mars-north-1'], /mars-north-1 is not an AWS region/],
    [['--regions', 'us-east-1,us-east-1'], /listed twice/],
    [['--regions', ''], /at least one region/],
    [['--bootstrap-port', '70000'], /--bootstrap-port/],
    [['--host-mode', 'everywhere'], /everywhere/],
    [['--account-id', '42'], /12 digits/],
    [['--bogus'], /unknown option/],
  ])('refuses %j with a message that names the problem', (argv, message) => {
    // Act
    const attempt = () => parseMainOptions(argv);

    // Assess
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(message);
  });

  it('treats --help as help, not as an error', () => {
    // Act
    let printed = '';
    const attempt = () =>
      parseMainOptions(['--help'], (text) => {
        printed += text;
      });

    // Assess
    expect(attempt).toThrow(HelpShown);
    expect(printed).toContain('Usage: npm run cloud -- [options]');
    expect(printed).toContain('--data-dir');
    expect(printed).toContain('--config <file>');
  });
});

describe('resolveRegionEndpoints', () => {
  it('gives each region its own loopback address, host name and port 8883 in loopback-ips mode', () => {
    // Act
    const endpoints = resolveRegionEndpoints(['us-east-1', 'eu-central-1'], 'loopback-ips');

    // Assess
    expect(endpoints).toEqual([
      { region: 'us-east-1', host: 'us-east-1.iot.local-cloud.test', address: '127.0.0.2', port: 8883 },
      { region: 'eu-central-1', host: 'eu-central-1.iot.local-cloud.test', address: '127.0.0.3', port: 8883 },
    ]);
  });

  it('makes each region\'s address its endpoint, on port 8883, in loopback-addresses mode', () => {
    // Act
    const endpoints = resolveRegionEndpoints(['us-east-1', { region: 'eu-central-1', host: 'eu.example.test' }], 'loopback-addresses');

    // Assess
    expect(endpoints).toEqual([
      { region: 'us-east-1', host: '127.0.0.2', address: '127.0.0.2', port: 8883 },
      { region: 'eu-central-1', host: 'eu.example.test', address: '127.0.0.3', port: 8883 },
    ]);
  });

  it('puts every region on 127.0.0.1 and a free port by default, and keeps explicit settings', () => {
    // Act
    const endpoints = resolveRegionEndpoints(['us-east-1', { region: 'sa-east-1', host: 'sa.test', port: 9999 }], 'localhost');

    // Assess
    expect(endpoints).toEqual([
      { region: 'us-east-1', host: 'localhost', address: '127.0.0.1', port: 0 },
      { region: 'sa-east-1', host: 'sa.test', address: '127.0.0.1', port: 9999 },
    ]);
  });

  it.each([
    [['us-east-1', 'us-east-1']],
    [['nowhere-1']],
    [[{ region: 'us-east-1', address: 'localhost' }]],
    [[{ region: 'us-east-1', port: 70_000 }]],
    [[]],
  ])('refuses %j', (regions) => {
    // Act
    const attempt = () => resolveRegionEndpoints(regions, 'localhost');

    // Assess
    expect(attempt).toThrow(LocalCloudConfigError);
  });
});

describe('instructions', () => {
  const cloud = {
    accountId: '123456789012',
    bootstrapUrl: 'https://localhost:8443',
    iotControlEndpoint: 'http://127.0.0.1:1',
    lambdaEndpoint: 'http://127.0.0.1:2',
    dynamo: { endpoint: 'http://127.0.0.1:3', port: 3, close: async () => undefined },
    regions: [
      { region: 'us-east-1', host: 'us-east-1.iot.local-cloud.test', address: '127.0.0.2', port: 8883, endpoint: 'us-east-1.iot.local-cloud.test', deviceCaPath: '/x/device-ca-us-east-1.pem' },
    ],
    paths: { rootCa: '/x/root-ca.pem', claimCert: '/x/claim.cert.pem', claimKey: '/x/claim.private.key' },
    functionArn: (region: string, name: string) => `arn:aws:lambda:${region}:123456789012:function:${name}`,
  } as unknown as LocalCloud;

  const config = parseDeploymentConfig({ homeRegion: 'us-east-1', regions: ['us-east-1'], defaultRegion: 'us-east-1', tableName: 'my-registry' });

  it('names the bootstrap URL, the CA and claim files, every endpoint, the functions, template and table, and the hosts lines', () => {
    // Act
    const text = instructions(cloud, '/x/keys', config);

    // Assess
    for (const expected of [
      'https://localhost:8443', '/x/root-ca.pem', '/x/claim.cert.pem', '/x/claim.private.key', '/x/keys/fleet-signing.key',
      'us-east-1.iot.local-cloud.test:8883', '127.0.0.2 us-east-1.iot.local-cloud.test',
      'pre-provisioning-hook, provisioning-confirmation', 'arn:aws:lambda:us-east-1:123456789012:function:pre-provisioning-hook',
      'GlobalFleetProvisioning', 'registry table my-registry',
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain('PRIVATE KEY-----');
  });

  it('asks for no hosts lines when the endpoints are addresses', () => {
    // Prepare
    const byAddress = { ...cloud, regions: [{ ...cloud.regions[0], host: '127.0.0.2', endpoint: '127.0.0.2' }] } as unknown as LocalCloud;

    // Act
    const text = instructions(byAddress, '/x/keys', config);

    // Assess
    expect(text).toContain('us-east-1        127.0.0.2:8883\n');
    expect(text).not.toContain('/etc/hosts');
  });
});

describe('automaticHostMode', () => {
  async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it('gives each region its loopback address when every one can be bound', async () => {
    // Prepare
    const port = await freePort();

    // Act
    const mode = await automaticHostMode(3, port);

    // Assess
    expect(mode).toBe('loopback-addresses');
  });

  it('falls back to localhost when a region\'s address and port are taken', async () => {
    // Prepare
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.3', resolve));

    // Act
    const mode = await automaticHostMode(3, port).finally(() => holder.close());

    // Assess
    expect(mode).toBe('localhost');
  });
});

describe('the npm scripts', () => {
  const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

  it('build the geolocation table when missing before npm run cloud, as before npm start', () => {
    // Assess
    expect(scripts['precloud']).toBe('npm run geo:build -- --if-missing');
    expect(scripts['prestart']).toBe(scripts['precloud']);
  });

  it('replace the shell with node, so that a signal to npm reaches the cloud (test/local/signals.test.ts)', () => {
    // Assess
    expect(scripts['cloud']).toMatch(/^exec node /);
    expect(scripts['start']).toMatch(/^exec env [A-Z_=0-9]+ node /);
  });
});

describe('--aws-quotas', () => {
  it('is off by default, and turns on AWS IoT quotas in the cloud options', () => {
    // Act
    const off = cloudOptions(parseMainOptions([]));
    const on = cloudOptions(parseMainOptions(['--aws-quotas']));

    // Assess
    expect(off.awsQuotas).toBe(false);
    expect(on.awsQuotas).toBe(true);
  });
});

describe('--region-delay', () => {
  it('is none by default, and gives each named region its delay, checked against the emulated regions', () => {
    // Act
    const none = cloudOptions(parseMainOptions([]));
    const some = cloudOptions(parseMainOptions(['--region-delay', 'eu-central-1=80', '--region-delay', 'us-east-1=0']));

    // Assess
    expect(none.regionDelaysMs).toEqual({});
    expect(some.regionDelaysMs).toEqual({ 'eu-central-1': 80, 'us-east-1': 0 });
  });

  it.each([
    [['--region-delay', 'eu-central-1'], /expected <region>=<ms>/],
    [['--region-delay', 'eu-central-1=-5'], /expected <region>=<ms>/],
    [['--region-delay', 'eu-central-1=5', '--region-delay', 'eu-central-1=6'], /given twice/],
    [['--region-delay', 'eu-west-1=5'], /eu-west-1: not an emulated region/],
    [['--region-delay', 'eu-central-1=20000'], /from 0 to 10000/],
  ])('refuses %j, naming the flag', (argv, message) => {
    // Act
    const attempt = () => cloudOptions(parseMainOptions(argv));

    // Assess
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(/--region-delay/);
    expect(attempt).toThrow(message);
  });

  it('is shown beside the delayed region in the printed table', () => {
    // Prepare
    const cloud = {
      bootstrapUrl: 'https://localhost:8443',
      paths: { rootCa: 'root-ca.pem', claimCert: 'claim.cert.pem', claimKey: 'claim.private.key' },
      regions: [
        { region: 'us-east-1', host: '127.0.0.2', address: '127.0.0.2', port: 8883 },
        { region: 'eu-central-1', host: '127.0.0.3', address: '127.0.0.3', port: 8883 },
      ],
      iotControlEndpoint: 'http://127.0.0.1:1',
      lambdaEndpoint: 'http://127.0.0.1:2',
      dynamo: { endpoint: 'http://127.0.0.1:3' },
      accountId: '123456789012',
      functionArn: (region: string, name: string) => `arn:aws:lambda:${region}:123456789012:function:${name}`,
    } as unknown as LocalCloud;
    const config = parseDeploymentConfig({ homeRegion: 'us-east-1', regions: ['us-east-1', 'eu-central-1'], defaultRegion: 'us-east-1' });

    // Act
    const text = instructions(cloud, '/keys', config, { 'eu-central-1': 80 });

    // Assess
    expect(text).toMatch(/eu-central-1 +127\.0\.0\.3:8883 +\(each handshake delayed 80 ms\)/);
    expect(text).not.toMatch(/us-east-1 +127\.0\.0\.2:8883 +\(each handshake/);
  });
});
