import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { geolocate, ipstackProvider } from '@global-iot/bootstrap-service/geolocate.js';
import { createEndpointResolver, describeEndpointFromTable, describeEndpointViaIot } from '@global-iot/core/endpoints.js';
import { selfSignedServerCert } from '../helpers/tls.js';

/** A stand-in for an ipstack-compatible service, over real HTTPS. */
let server: Server;
let baseUrl: string;
let ca: Buffer;
const seen: string[] = [];
beforeAll(async () => {
  const tls = selfSignedServerCert();
  ca = tls.cert;
  server = createServer(tls, (req, res) => {
    seen.push(req.url ?? '');
    const ip = decodeURIComponent((req.url ?? '').split('?')[0]?.split('/').pop() ?? '');
    if (ip === '81.2.69.160') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ip, latitude: 51.5, longitude: -0.12, country_code: 'GB' }));
    } else if (ip === '81.2.69.161') {
      res.writeHead(200).end('{not json');
    } else if (ip === '81.2.69.162') {
      // Never answers: the provider's timeout must cut it short.
    } else if (ip === '81.2.69.163') {
      res.writeHead(200).end(JSON.stringify({ latitude: 512, longitude: 0 }));
    } else {
      res.writeHead(200).end(JSON.stringify({ ip, latitude: null, longitude: null, country_code: null }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('ipstack-compatible provider', () => {
  const provider = () => ipstackProvider({ url: baseUrl, apiKey: 'k-123', timeoutMs: 300, ca });

  it('returns the location and sends the key inside TLS', async () => {
    expect(await provider()('81.2.69.160')).toEqual({ lat: 51.5, lon: -0.12, country: 'GB' });
    expect(seen.some((u) => u === '/api/81.2.69.160?access_key=k-123')).toBe(true);
  });

  it('treats null coordinates as unknown', async () => {
    expect(await provider()('81.2.69.199')).toBeUndefined();
  });

  it('fails on malformed JSON, out-of-range values and a timeout', async () => {
    await expect(provider()('81.2.69.161')).rejects.toThrow(/malformed/);
    await expect(provider()('81.2.69.163')).rejects.toThrow(/malformed/);
    await expect(provider()('81.2.69.162')).rejects.toThrow(/timed out/);
  });

  it('refuses a plain-HTTP provider at construction', () => {
    expect(() => ipstackProvider({ url: 'http://example.test', apiKey: 'k', timeoutMs: 100 })).toThrow(/HTTPS/);
  });

  it('is the last resort: its failure leaves the location unknown rather than failing', async () => {
    const errors: unknown[] = [];
    const found = await geolocate({ sourceIp: '81.2.69.162' }, { lookup: () => undefined, provider: provider(), onProviderError: (e) => errors.push(e) });
    expect(found).toBeUndefined();
    expect(errors).toHaveLength(1);
    const remote = await geolocate({ sourceIp: '81.2.69.160' }, { lookup: () => undefined, provider: provider() });
    expect(remote).toMatchObject({ source: 'provider', country: 'GB' });
  });

  it('treats a throwing database lookup as an unknown location, then asks the provider', async () => {
    const errors: unknown[] = [];
    const broken = () => {
      throw new Error('table damaged');
    };
    expect(await geolocate({ sourceIp: '81.2.69.199' }, { lookup: broken, onProviderError: (e) => errors.push(e) })).toBeUndefined();
    expect(await geolocate({ sourceIp: '81.2.69.160' }, { lookup: broken, provider: provider() })).toMatchObject({ source: 'provider' });
    expect(errors).toHaveLength(1);
  });

  it('never asks anyone about private or invalid addresses', async () => {
    const before = seen.length;
    for (const ip of ['10.0.0.1', '192.168.0.2', 'fe80::1', 'not-an-ip']) {
      expect(await geolocate({ sourceIp: ip }, { lookup: () => ({ lat: 1, lon: 1, country: 'XX' }), provider: provider() })).toBeUndefined();
    }
    expect(seen.length).toBe(before);
  });
});

describe('endpoint resolution through @aws-sdk/client-iot', () => {
  let iot: HttpServer;
  let calls = 0;
  let endpoint: string;
  beforeAll(async () => {
    // Speaks the DescribeEndpoint REST call: GET /endpoint?endpointType=iot:Data-ATS.
    iot = createHttpServer((req, res) => {
      calls++;
      const url = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization ?? '';
      const region = /Credential=[^/]+\/\d+\/([^/]+)\/iot\//.exec(auth)?.[1] ?? 'unknown';
      if (url.pathname !== '/endpoint' || url.searchParams.get('endpointType') !== 'iot:Data-ATS' || region === 'eu-west-1') {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'boom' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ endpointAddress: `prefix-ats.iot.${region}.amazonaws.com` }));
    });
    await new Promise<void>((resolve) => iot.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(iot.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => iot.close(resolve));
  });

  it('asks once per region, caches, and lets overrides win', async () => {
    const resolve = createEndpointResolver({
      describe: describeEndpointViaIot({ endpoint }),
      overrides: { 'ap-south-1': 'iot.example.com' },
    });
    const [a, b] = await Promise.all([resolve('eu-central-1'), resolve('eu-central-1')]);
    expect(a).toBe('prefix-ats.iot.eu-central-1.amazonaws.com');
    expect(b).toBe(a);
    const before = calls;
    await resolve('eu-central-1');
    expect(calls).toBe(before);
    expect(await resolve('ap-south-1')).toBe('iot.example.com');
    expect(calls).toBe(before);
  });

  it('answers from the endpoints looked up at deploy, overrides first, and names a region never looked up', async () => {
    // Prepare
    const resolve = createEndpointResolver({
      describe: describeEndpointFromTable({ 'eu-central-1': 'deployed-ats.iot.eu-central-1.amazonaws.com' }),
      overrides: { 'ap-south-1': 'iot.example.com' },
    });
    const before = calls;

    // Act + Assess
    expect(await resolve('eu-central-1')).toBe('deployed-ats.iot.eu-central-1.amazonaws.com');
    expect(await resolve('ap-south-1')).toBe('iot.example.com');
    await expect(resolve('eu-west-1')).rejects.toThrow(/could not resolve the IoT endpoint of eu-west-1/);
    await expect(describeEndpointFromTable({})('eu-west-1')).rejects.toThrow(/no iot:Data-ATS endpoint was looked up for eu-west-1/);
    expect(calls).toBe(before);
  });

  it('does not cache a failure', async () => {
    const resolve = createEndpointResolver({ describe: describeEndpointViaIot({ endpoint }) });
    await expect(resolve('eu-west-1')).rejects.toThrow(/could not resolve the IoT endpoint of eu-west-1/);
    const before = calls;
    await expect(resolve('eu-west-1')).rejects.toThrow();
    expect(calls).toBeGreaterThan(before);
  });
});
