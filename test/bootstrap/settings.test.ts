import { describe, expect, it } from 'vitest';
import { readBootstrapSettings, SECRET_CACHE_SECONDS } from '@global-iot/bootstrap-service/settings.js';
import { ConfigError } from '@global-iot/core/errors.js';
import { DEFAULT_METRICS_NAMESPACE } from '@global-iot/core/lambda-telemetry.js';

const config = { homeRegion: 'us-east-1', regions: ['us-east-1', 'eu-central-1'], defaultRegion: 'us-east-1' };
const endpoints = { 'us-east-1': 'a1b2c3-ats.iot.us-east-1.amazonaws.com', 'eu-central-1': 'a1b2c3-ats.iot.eu-central-1.amazonaws.com' };
const baseEnv = {
  AWS_REGION: 'us-east-1',
  BOOTSTRAP_CONFIG: JSON.stringify(config),
  TICKET_SIGNING_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:ticket',
  IOT_DATA_ENDPOINTS: JSON.stringify(endpoints),
};

describe('bootstrap settings', () => {
  it('read the environment once, with the documented defaults', () => {
    // Act
    const settings = readBootstrapSettings(baseEnv);

    // Assess
    expect(settings).toMatchObject({
      region: 'us-east-1',
      tableName: 'iot-device-registry',
      fleetPublicKeys: [],
      ticketSecretArn: baseEnv.TICKET_SIGNING_SECRET_ARN,
      secretCacheSeconds: SECRET_CACHE_SECONDS.default,
      telemetry: { serviceName: 'bootstrap', metricsNamespace: DEFAULT_METRICS_NAMESPACE },
    });
    expect(settings.config.regions).toEqual(config.regions);
    expect(settings.dataEndpoints).toEqual(endpoints);
    expect(settings.dynamoEndpoint).toBeUndefined();
    expect(settings.geoApiKey).toBeUndefined();
  });

  it('take the optional settings when given', () => {
    // Act
    const settings = readBootstrapSettings({
      ...baseEnv,
      BOOTSTRAP_CONFIG: JSON.stringify({ ...config, geoProvider: { url: 'https://geo.example.test' } }),
      REGISTRY_TABLE: 'other-table',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      FLEET_PUBLIC_KEYS: JSON.stringify(['-----BEGIN PUBLIC KEY-----']),
      SECRET_CACHE_SECONDS: '60',
      GEO_DB_PATH: '/var/task/geo/table',
      IPSTACK_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:geo',
      POWERTOOLS_SERVICE_NAME: 'bootstrap-eu',
      POWERTOOLS_METRICS_NAMESPACE: 'Fleet/Provisioning',
    });

    // Assess
    expect(settings).toMatchObject({
      tableName: 'other-table',
      dynamoEndpoint: 'http://127.0.0.1:8000',
      fleetPublicKeys: ['-----BEGIN PUBLIC KEY-----'],
      secretCacheSeconds: 60,
      geoTablePath: '/var/task/geo/table',
      geoApiKey: { secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:geo' },
      telemetry: { serviceName: 'bootstrap-eu', metricsNamespace: 'Fleet/Provisioning' },
    });
  });

  it('take a plain geolocation key for local runs, and ignore it without a provider', () => {
    // Act
    const withProvider = readBootstrapSettings({
      ...baseEnv,
      BOOTSTRAP_CONFIG: JSON.stringify({ ...config, geoProvider: { url: 'https://geo.example.test' } }),
      IPSTACK_API_KEY: 'k-1',
    });
    const without = readBootstrapSettings({ ...baseEnv, IPSTACK_API_KEY: 'k-1' });

    // Assess
    expect(withProvider.geoApiKey).toEqual({ value: 'k-1' });
    expect(without.geoApiKey).toBeUndefined();
  });

  it('take a region\'s endpoint from endpointOverrides instead of IOT_DATA_ENDPOINTS', () => {
    // Prepare: eu-central-1 on a custom domain, so the home stack looks up only us-east-1.
    const overridden = { ...config, endpointOverrides: { 'eu-central-1': 'mqtt-eu.devices.example.com' } };

    // Act
    const settings = readBootstrapSettings({
      ...baseEnv,
      BOOTSTRAP_CONFIG: JSON.stringify(overridden),
      IOT_DATA_ENDPOINTS: JSON.stringify({ 'us-east-1': endpoints['us-east-1'] }),
    });

    // Assess
    expect(settings.dataEndpoints).toEqual({ 'us-east-1': endpoints['us-east-1'] });
    expect(settings.config.endpointOverrides).toEqual({ 'eu-central-1': 'mqtt-eu.devices.example.com' });
  });

  it.each([
    ['BOOTSTRAP_CONFIG missing', { BOOTSTRAP_CONFIG: undefined }, /BOOTSTRAP_CONFIG/],
    ['BOOTSTRAP_CONFIG not JSON', { BOOTSTRAP_CONFIG: '{' }, /BOOTSTRAP_CONFIG is not valid JSON/],
    ['BOOTSTRAP_CONFIG invalid', { BOOTSTRAP_CONFIG: JSON.stringify({ ...config, defaultRegion: 'ap-south-1' }) }, /defaultRegion/],
    ['AWS_REGION missing', { AWS_REGION: undefined }, /AWS_REGION/],
    ['AWS_REGION not a region', { AWS_REGION: 'Virginia' }, /AWS_REGION must be an AWS region code/],
    ['TICKET_SIGNING_SECRET_ARN missing', { TICKET_SIGNING_SECRET_ARN: undefined }, /TICKET_SIGNING_SECRET_ARN/],
    ['FLEET_PUBLIC_KEYS not a list of strings', { FLEET_PUBLIC_KEYS: '[1]' }, /FLEET_PUBLIC_KEYS is invalid/],
    ['SECRET_CACHE_SECONDS too short', { SECRET_CACHE_SECONDS: '1' }, /SECRET_CACHE_SECONDS must be between 10 and 3600/],
    ['SECRET_CACHE_SECONDS not a number', { SECRET_CACHE_SECONDS: 'five minutes' }, /SECRET_CACHE_SECONDS must be an integer/],
    ['POWERTOOLS_METRICS_NAMESPACE reserved', { POWERTOOLS_METRICS_NAMESPACE: 'AWS/Lambda' }, /POWERTOOLS_METRICS_NAMESPACE is invalid: .*reserved/],
    [
      'IOT_DATA_ENDPOINTS missing an enabled region',
      { IOT_DATA_ENDPOINTS: JSON.stringify({ 'us-east-1': endpoints['us-east-1'] }) },
      /IOT_DATA_ENDPOINTS names no iot:Data-ATS endpoint for eu-central-1, and endpointOverrides none either: the home stack looks one up/,
    ],
    ['IOT_DATA_ENDPOINTS missing', { IOT_DATA_ENDPOINTS: undefined }, /IOT_DATA_ENDPOINTS names no iot:Data-ATS endpoint for us-east-1, eu-central-1/],
    ['IOT_DATA_ENDPOINTS not an object', { IOT_DATA_ENDPOINTS: '["a.example.com"]' }, /IOT_DATA_ENDPOINTS is invalid: \(root\): /],
    ['IOT_DATA_ENDPOINTS not JSON', { IOT_DATA_ENDPOINTS: 'us-east-1=a.example.com' }, /IOT_DATA_ENDPOINTS is not valid JSON/],
    ['IOT_DATA_ENDPOINTS with a bad host', { IOT_DATA_ENDPOINTS: JSON.stringify({ ...endpoints, 'us-east-1': 'not a host' }) }, /IOT_DATA_ENDPOINTS is invalid: us-east-1: not a host name/],
    ['POWERTOOLS_SERVICE_NAME with spaces', { POWERTOOLS_SERVICE_NAME: 'my service' }, /POWERTOOLS_SERVICE_NAME is invalid/],
  ])('refuse a bad environment: %s', (_name, change, message) => {
    // Act
    const act = () => readBootstrapSettings({ ...baseEnv, ...change });

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(message);
  });
});
