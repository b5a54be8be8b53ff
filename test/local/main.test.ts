import { describe, expect, it } from 'vitest';
import { DEFAULT_REGIONS, LocalCloudConfigError, type LocalCloud, resolveRegionEndpoints } from '@global-iot/local/cloud.js';
import { UsageError } from '@global-iot/core/errors.js';
import { cloudOptions, HelpShown, instructions, parseMainOptions } from '@global-iot/local/main.js';

/** `npm start`'s command line, and what it prints. */

describe('parseMainOptions', () => {
  it('defaults to five regions on four continents, on localhost, with AWS key type', () => {
    // Act
    const options = parseMainOptions([]);

    // Assess
    expect(options).toMatchObject({
      regions: [...DEFAULT_REGIONS],
      hostMode: 'localhost',
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
    expect(printed).toContain('--data-dir');
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
  } as unknown as LocalCloud;

  it('names the bootstrap URL, the CA and claim files, every endpoint and the hosts lines', () => {
    // Act
    const text = instructions(cloud, '/x/keys');

    // Assess
    for (const expected of ['https://localhost:8443', '/x/root-ca.pem', '/x/claim.cert.pem', '/x/claim.private.key', '/x/keys/fleet-signing.key', 'us-east-1.iot.local-cloud.test:8883', '127.0.0.2 us-east-1.iot.local-cloud.test']) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain('PRIVATE KEY-----');
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
