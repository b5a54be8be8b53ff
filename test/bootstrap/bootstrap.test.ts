import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalRequestBytes, signBytes, signedBootstrapRequest } from '@global-iot/core/signing.js';
import { verifyTicket } from '@global-iot/core/ticket.js';
import { loadGeoTable } from '@global-iot/core/geo/table.js';
import { httpApiEvent, makeHarness, parseAnswer } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t.close();
});

let counter = 0;
async function enrolled(options: { publicKey?: string; pinnedRegion?: string } = {}): Promise<string> {
  const name = `boot-${++counter}`;
  await t.registry.enroll({ thingName: name, ...options });
  return name;
}

function harness(config: Parameters<typeof makeHarness>[0]['config'] = {}, extra: Partial<Parameters<typeof makeHarness>[0]> = {}) {
  return makeHarness({ registry: t.registry, now: () => t.clock.now, config, ...extra });
}

const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

describe('signature algorithms', () => {
  const cases = [
    ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['RSA 4096', () => generateKeyPairSync('rsa', { modulusLength: 4096 })],
    ['ECDSA P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
    ['Ed25519', () => generateKeyPairSync('ed25519')],
  ] as const;

  for (const [label, generate] of cases) {
    it(`accepts a valid ${label} signature with a per-device key and refuses a wrong one`, async () => {
      // Prepare
      const pair = generate();
      const other = generate();
      const name = await enrolled({ publicKey: pem(pair.publicKey) });
      const h = harness();
      // Act
      const bad = await h.handler(httpApiEvent(signedBootstrapRequest(other.privateKey, name, t.clock.now)));
      const good = await h.handler(httpApiEvent(signedBootstrapRequest(pair.privateKey, name, t.clock.now)));
      // Assess
      expect(bad.statusCode).toBe(401);
      expect(good.statusCode).toBe(200);
      const answer = parseAnswer(good);
      expect(answer).toMatchObject({ status: 'success', region: 'us-east-1', templateName: 'GlobalFleetProvisioning' });
      const claims = verifyTicket(String(answer['ticket']), h.ticketKeys, t.clock.now);
      expect(claims).toMatchObject({ sub: name, rgn: 'us-east-1' });
      expect((await t.registry.get(name))?.ticket_id).toBe(claims.jti);
    });
  }

  it('refuses keys outside the supported set (RSA 1024, P-384) as unauthenticated', async () => {
    for (const pair of [
      generateKeyPairSync('rsa', { modulusLength: 1024 }),
      generateKeyPairSync('ec', { namedCurve: 'secp384r1' }),
    ]) {
      const name = await enrolled({ publicKey: pem(pair.publicKey) });
      const res = await harness().handler(httpApiEvent(signedBootstrapRequest(pair.privateKey, name, t.clock.now)));
      expect(res.statusCode).toBe(401);
      expect((await t.registry.get(name))?.prov_status).toBe('unprovisioned');
    }
  });

  it('accepts any of several fleet keys (rotation)', async () => {
    const oldKey = generateKeyPairSync('ed25519');
    const newKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const h = harness({}, { fleetPublicKeys: [pem(oldKey.publicKey), pem(newKey.publicKey)] });
    for (const key of [oldKey, newKey]) {
      const name = await enrolled();
      const res = await h.handler(httpApiEvent(signedBootstrapRequest(key.privateKey, name, t.clock.now)));
      expect(res.statusCode).toBe(200);
    }
  });
});

describe('legacy (original sample) format', () => {
  function opensslSign(thingName: string): { key: KeyObject; sig: string } {
    const dir = mkdtempSync(join(tmpdir(), 'legacy-'));
    try {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(join(dir, 'name'), thingName);
      const sig = execFileSync('openssl', ['dgst', '-sha256', '-sign', join(dir, 'key.pem'), join(dir, 'name')]);
      return { key: publicKey, sig: sig.toString('base64') };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('accepts an openssl-signed seed request only where legacy signatures are enabled', async () => {
    // Prepare
    const name = await enrolled();
    const { key, sig } = opensslSign(name);
    const body = { 'thing-name': name, 'thing-name-sig': sig };
    const off = harness({}, { fleetPublicKeys: [pem(key)] });
    const on = harness({ legacySignatures: true }, { fleetPublicKeys: [pem(key)] });
    // Act
    const refused = await off.handler(httpApiEvent(body));
    const accepted = await on.handler(httpApiEvent(body));
    // Assess
    expect(refused.statusCode).toBe(401);
    expect(parseAnswer(refused)['code']).toBe('LEGACY_SIGNATURE_REFUSED');
    expect(accepted.statusCode).toBe(200);
  });

  it.each([
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
    ['Ed25519', () => generateKeyPairSync('ed25519')],
  ])('refuses a bare-name signature made with an %s key, as the device key or a fleet key, and changes nothing', async (_label, generate) => {
    // Prepare
    const deviceKey = generate();
    const fleetKey = generate();
    const ownKey = await enrolled({ publicKey: pem(deviceKey.publicKey) });
    const fleetSigned = await enrolled();
    const h = harness({ legacySignatures: true }, { fleetPublicKeys: [pem(fleetKey.publicKey)] });
    const legacyBody = (name: string, key: KeyObject) => ({ 'thing-name': name, 'thing-name-sig': signBytes(key, Buffer.from(name, 'utf8')).toString('base64') });

    // Act
    const withDeviceKey = await h.handler(httpApiEvent(legacyBody(ownKey, deviceKey.privateKey)));
    const withFleetKey = await h.handler(httpApiEvent(legacyBody(fleetSigned, fleetKey.privateKey)));
    const timestamped = await h.handler(httpApiEvent(signedBootstrapRequest(deviceKey.privateKey, ownKey, t.clock.now)));

    // Assess
    for (const refused of [withDeviceKey, withFleetKey]) {
      expect(refused.statusCode).toBe(401);
      expect(parseAnswer(refused)['code']).toBe('UNAUTHORIZED');
    }
    expect((await t.registry.get(fleetSigned))?.prov_status).toBe('unprovisioned');
    // The key itself is fine: the same device with a v1 request is let through.
    expect(timestamped.statusCode).toBe(200);
  });

  it('still accepts an RSA bare-name signature when an EC fleet key is listed first', async () => {
    // Prepare
    const name = await enrolled();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const h = harness({ legacySignatures: true }, { fleetPublicKeys: [pem(ec.publicKey), pem(rsa.publicKey)] });
    const body = { 'thing-name': name, 'thing-name-sig': signBytes(rsa.privateKey, Buffer.from(name, 'utf8')).toString('base64') };

    // Act
    const accepted = await h.handler(httpApiEvent(body));

    // Assess
    expect(accepted.statusCode).toBe(200);
    expect((await t.registry.get(name))?.prov_status).toBe('assigned');
  });
});

describe('freshness and replay', () => {
  it('refuses a replayed request and an older timestamp, accepts a newer one', async () => {
    const name = await enrolled();
    const h = harness();
    const body = signedBootstrapRequest(h.fleetKey, name, t.clock.now - 1000);
    expect((await h.handler(httpApiEvent(body))).statusCode).toBe(200);
    const replay = await h.handler(httpApiEvent(body));
    expect(replay.statusCode).toBe(401);
    expect(parseAnswer(replay)['code']).toBe('REPLAYED_REQUEST');
    const older = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now - 2000)));
    expect(older.statusCode).toBe(401);
    expect((await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now)))).statusCode).toBe(200);
  });

  it('refuses timestamps outside the skew window either way, before touching the registry', async () => {
    const name = await enrolled();
    const h = harness({ timestampSkewSeconds: 60 });
    for (const ts of [t.clock.now - 61_000, t.clock.now + 61_000]) {
      const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, ts)));
      expect(res.statusCode).toBe(401);
      expect(parseAnswer(res)['code']).toBe('REQUEST_EXPIRED');
    }
    expect((await t.registry.get(name))?.prov_status).toBe('unprovisioned');
  });
});

describe('authentication does not reveal which devices exist', () => {
  it('answers an unknown device and a bad signature identically', async () => {
    const name = await enrolled();
    const h = harness();
    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const unknown = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, 'no-such-device', t.clock.now)));
    const badSig = await h.handler(httpApiEvent(signedBootstrapRequest(stranger.privateKey, name, t.clock.now)));
    expect(unknown.statusCode).toBe(401);
    expect(badSig.statusCode).toBe(401);
    expect(unknown.body).toBe(badSig.body);
    expect(unknown.headers).toEqual(badSig.headers);
  });

  it('does not accept a signature over other bytes (thing name swapped, timestamp changed)', async () => {
    const name = await enrolled();
    const other = await enrolled();
    const h = harness();
    const sig = signBytes(h.fleetKey, canonicalRequestBytes(other, t.clock.now)).toString('base64');
    const swapped = await h.handler(httpApiEvent({ 'thing-name': name, 'thing-name-sig': sig, timestamp: t.clock.now }));
    const shifted = await h.handler(httpApiEvent({ 'thing-name': other, 'thing-name-sig': sig, timestamp: t.clock.now + 1 }));
    expect([swapped.statusCode, shifted.statusCode]).toEqual([401, 401]);
  });
});

describe('registry state', () => {
  it('answers 409 for a provisioned device and 403 for a blocked one, only after the signature verified', async () => {
    const h = harness();
    const blocked = await enrolled();
    await t.registry.block(blocked, 'test');
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, blocked, t.clock.now)));
    expect(res.statusCode).toBe(403);
    const stranger = generateKeyPairSync('ed25519');
    const forged = await h.handler(httpApiEvent(signedBootstrapRequest(stranger.privateKey, blocked, t.clock.now + 1)));
    expect(forged.statusCode).toBe(401);

    const done = await enrolled();
    await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, done, t.clock.now)));
    const record = await t.registry.get(done);
    await t.registry.beginProvisioning({
      thingName: done,
      region: 'us-east-1',
      ticketId: String(record?.ticket_id),
      certificateId: 'c'.repeat(64),
      maxAttempts: 3,
    });
    await t.registry.confirm(done, 'c'.repeat(64), 'us-east-1');
    const again = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, done, t.clock.now + 5)));
    expect(again.statusCode).toBe(409);
    expect(parseAnswer(again)['code']).toBe('ALREADY_PROVISIONED');
  });

  it('keeps a device that is already provisioning in its region', async () => {
    const h = harness();
    const name = await enrolled();
    await t.registry.assign({
      thingName: name,
      expectedStatus: 'unprovisioned',
      region: 'ap-south-1',
      ticketId: 'first-ticket-aaaaaaaa',
      ticketExpiresAt: t.clock.now + 1000,
    });
    await t.registry.beginProvisioning({
      thingName: name,
      region: 'ap-south-1',
      ticketId: 'first-ticket-aaaaaaaa',
      certificateId: 'd'.repeat(64),
      maxAttempts: 3,
    });
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now), { sourceIp: '52.0.0.1' }));
    expect(res.statusCode).toBe(200);
    expect(parseAnswer(res)).toMatchObject({ region: 'ap-south-1', fallbacks: [] });
  });

  it('decides again, in the same region, when the hook moves the device between read and write', async () => {
    // Prepare: the device was assigned; its RegisterThing answer was slow, so it bootstraps again,
    // and the hook's allow lands between this request's read and its conditional write.
    const name = await enrolled();
    const h0 = harness();
    await h0.handler(httpApiEvent(signedBootstrapRequest(h0.fleetKey, name, t.clock.now - 10)));
    const first = await t.registry.get(name);
    let raced = false;
    const racing = Object.create(t.registry) as typeof t.registry;
    racing.assign = async (a) => {
      if (!raced) {
        raced = true;
        await t.registry.beginProvisioning({
          thingName: name,
          region: String(first?.aws_region),
          ticketId: String(first?.ticket_id),
          certificateId: 'e'.repeat(64),
          maxAttempts: 3,
        });
      }
      return t.registry.assign(a);
    };
    const h = makeHarness({ registry: racing, now: () => t.clock.now, fleetKey: h0.fleetKey, fleetPublicKeys: [pem(createPublicKey(h0.fleetKey))] });
    // Act
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now), { sourceIp: '52.0.0.1' }));
    // Assess
    expect(raced).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(parseAnswer(res)).toMatchObject({ region: first?.aws_region, fallbacks: [] });
    const record = await t.registry.get(name);
    expect(record?.prov_status).toBe('provisioning');
    expect(record?.ticket_id).toBe(verifyTicket(String(parseAnswer(res)['ticket']), h.ticketKeys, t.clock.now).jti);
  });

  it('leaves exactly one live assignment when 50 requests for one device race', async () => {
    // Prepare
    const name = await enrolled();
    const h = harness();
    const bodies = Array.from({ length: 50 }, (_, i) => signedBootstrapRequest(h.fleetKey, name, t.clock.now - 50 + i));
    // Act
    const results = await Promise.all(bodies.map((b) => h.handler(httpApiEvent(b))));
    // Assess
    const ok = results.filter((r) => r.statusCode === 200);
    expect(results.every((r) => [200, 401, 409].includes(r.statusCode ?? 0))).toBe(true);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    const record = await t.registry.get(name);
    const live = ok
      .map((r) => verifyTicket(String(parseAnswer(r)['ticket']), h.ticketKeys, t.clock.now))
      .filter((c) => c.jti === record?.ticket_id);
    expect(live).toHaveLength(1);
  });
});

describe('source address', () => {
  const geo = {
    lookup: (ip: string) =>
      ip === '115.112.0.1'
        ? { lat: 19.02, lon: 72.83, country: 'IN' }
        : ip === '80.81.192.1'
          ? { lat: 50.95, lon: 6.91, country: 'DE' }
          : undefined,
  };

  it('ignores a spoofed X-Forwarded-For unless a proxy is trusted', async () => {
    const spoof = { 'x-forwarded-for': '115.112.0.1' };
    const untrusted = harness({}, { geo });
    const a = await enrolled();
    const res = await untrusted.handler(httpApiEvent(signedBootstrapRequest(untrusted.fleetKey, a, t.clock.now), { sourceIp: '80.81.192.1', headers: spoof }));
    expect(parseAnswer(res)['region']).toBe('eu-central-1');

    const trusted = harness({ trustedProxy: { type: 'x-forwarded-for', hops: 1 } }, { geo });
    const b = await enrolled();
    const viaProxy = await trusted.handler(
      httpApiEvent(signedBootstrapRequest(trusted.fleetKey, b, t.clock.now), {
        sourceIp: '10.0.0.5',
        headers: { 'x-forwarded-for': '80.81.192.1, 115.112.0.1' },
      }),
    );
    // Only the entry our one trusted proxy appended counts; the client's own left-most value does not.
    expect(parseAnswer(viaProxy)['region']).toBe('ap-south-1');
    expect((await t.registry.get(b))?.source_ip).toBe('115.112.0.1');
  });

  it('uses CloudFront viewer headers only when CloudFront is trusted', async () => {
    const headers = {
      'cloudfront-viewer-address': '115.112.0.1:40000',
      'cloudfront-viewer-latitude': '-33.87',
      'cloudfront-viewer-longitude': '151.21',
      'cloudfront-viewer-country': 'AU',
    };
    const cf = harness({ trustedProxy: { type: 'cloudfront' } }, { geo });
    const a = await enrolled();
    const res = await cf.handler(httpApiEvent(signedBootstrapRequest(cf.fleetKey, a, t.clock.now), { sourceIp: '130.176.0.1', headers }));
    expect(parseAnswer(res)['region']).toBe('ap-southeast-2');
    const plain = harness({}, { geo });
    const b = await enrolled();
    const ignored = await plain.handler(httpApiEvent(signedBootstrapRequest(plain.fleetKey, b, t.clock.now), { sourceIp: '80.81.192.1', headers }));
    expect(parseAnswer(ignored)['region']).toBe('eu-central-1');
  });
});

describe('geolocation with the embedded database', () => {
  const table = loadGeoTable();
  const cases: [string, string, string][] = [
    ['Germany (Cologne/Frankfurt)', '80.81.192.1', 'eu-central-1'],
    ['Tokyo', '210.130.0.1', 'ap-northeast-1'],
    ['Sao Paulo', '200.160.0.1', 'sa-east-1'],
    ['Sydney', '139.130.4.5', 'ap-southeast-2'],
    ['Northern Virginia', '52.0.0.1', 'us-east-1'],
    ['Mumbai', '115.112.0.1', 'ap-south-1'],
  ];
  for (const [place, ip, region] of cases) {
    it(`sends ${place} (${ip}) to ${region}`, async () => {
      const h = harness({}, { geo: { lookup: (addr) => table.lookup(addr) } });
      const name = await enrolled();
      const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now), { sourceIp: ip }));
      const answer = parseAnswer(res);
      expect(answer['region']).toBe(region);
      expect(answer['distance']).toBeLessThan(1500);
      expect((answer['fallbacks'] as unknown[]).length).toBe(2);
    });
  }

  it('sends private, loopback and unknown addresses to the default region', async () => {
    const h = harness({ defaultRegion: 'eu-west-1' }, { geo: { lookup: (addr) => table.lookup(addr) } });
    for (const ip of ['10.1.2.3', '127.0.0.1', '192.168.1.1', '::1', '203.0.113.1']) {
      const name = await enrolled();
      const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now), { sourceIp: ip }));
      expect(parseAnswer(res)).toMatchObject({ region: 'eu-west-1', distance: null });
    }
  });
});

describe('policies', () => {
  const table = loadGeoTable();
  const geo = { lookup: (addr: string) => table.lookup(addr) };

  it('honours a residency rule over a nearer region', async () => {
    // A Mumbai device restricted to EU regions goes to the nearest EU region, never ap-south-1.
    const h = harness({ residency: { IN: ['eu-central-1', 'eu-west-1'] } }, { geo });
    const name = await enrolled();
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now), { sourceIp: '115.112.0.1' }));
    const answer = parseAnswer(res);
    expect(answer['region']).toBe('eu-central-1');
    expect(answer['fallbacks']).toEqual([{ region: 'eu-west-1', endpointAddress: 'abc123-ats.iot.eu-west-1.amazonaws.com' }]);
  });

  it('honours a pinned region', async () => {
    const h = harness({}, { geo });
    const name = await enrolled({ pinnedRegion: 'ca-central-1' });
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now), { sourceIp: '210.130.0.1' }));
    expect(parseAnswer(res)['region']).toBe('ca-central-1');
  });

  it('skips a region drained at run time, and regions drained in config', async () => {
    const h = harness({ draining: ['ap-northeast-1'] }, { geo });
    const a = await enrolled();
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, a, t.clock.now), { sourceIp: '210.130.0.1' }));
    expect(parseAnswer(res)['region']).not.toBe('ap-northeast-1');

    await t.registry.setRegionDraining('eu-central-1', true);
    try {
      const b = await enrolled();
      const drained = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, b, t.clock.now), { sourceIp: '80.81.192.1' }));
      const answer = parseAnswer(drained);
      expect(answer['region']).not.toBe('eu-central-1');
      expect(JSON.stringify(answer['fallbacks'])).not.toContain('eu-central-1');
    } finally {
      await t.registry.setRegionDraining('eu-central-1', false);
    }
  });

  it('answers the default region when geolocation fails', async () => {
    const h = harness(
      { defaultRegion: 'sa-east-1' },
      {
        geo: {
          lookup: () => undefined,
          provider: async () => {
            throw new Error('provider down');
          },
        },
      },
    );
    const name = await enrolled();
    const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now), { sourceIp: '8.8.8.8' }));
    expect(res.statusCode).toBe(200);
    expect(parseAnswer(res)['region']).toBe('sa-east-1');
  });

  it('lets a device ask for one of its fallback regions', async () => {
    const h = harness({}, { geo });
    const name = await enrolled();
    const first = parseAnswer(await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now - 10), { sourceIp: '80.81.192.1' })));
    const fallback = (first['fallbacks'] as { region: string }[])[0]?.region;
    const second = await h.handler(
      httpApiEvent({ ...signedBootstrapRequest(h.fleetKey, name, t.clock.now), 'preferred-region': fallback }, { sourceIp: '80.81.192.1' }),
    );
    expect(parseAnswer(second)['region']).toBe(fallback);
    expect((await t.registry.get(name))?.aws_region).toBe(fallback);
  });
});

describe('malformed requests', () => {
  const h = () => harness();
  const cases: [string, ReturnType<typeof httpApiEvent>, number, string][] = [
    ['not JSON', httpApiEvent(null, { rawBody: '{"thing-name": ' }), 400, 'INVALID_REQUEST'],
    ['empty body', httpApiEvent(null, { rawBody: '' }), 400, 'INVALID_REQUEST'],
    ['JSON array', httpApiEvent([1, 2]), 400, 'INVALID_REQUEST'],
    ['bad thing name', httpApiEvent({ 'thing-name': 'a b', 'thing-name-sig': 'AAAA', timestamp: 1 }), 400, 'INVALID_REQUEST'],
    ['thing name too long', httpApiEvent({ 'thing-name': 'a'.repeat(129), 'thing-name-sig': 'AAAA', timestamp: 1 }), 400, 'INVALID_REQUEST'],
    ['signature not base64', httpApiEvent({ 'thing-name': 'abc', 'thing-name-sig': '!!!', timestamp: 1 }), 400, 'INVALID_REQUEST'],
    ['timestamp as string', httpApiEvent({ 'thing-name': 'abc', 'thing-name-sig': 'AAAA', timestamp: '1' }), 400, 'INVALID_REQUEST'],
    ['body over 8 KiB', httpApiEvent(null, { rawBody: JSON.stringify({ pad: 'x'.repeat(9000) }) }), 413, 'PAYLOAD_TOO_LARGE'],
    ['GET', httpApiEvent({}, { method: 'GET' }), 405, 'METHOD_NOT_ALLOWED'],
  ];
  for (const [label, event, status, code] of cases) {
    it(`answers ${status} ${code} for ${label}`, async () => {
      const res = await h().handler(event);
      expect(res.statusCode).toBe(status);
      expect(parseAnswer(res)).toMatchObject({ status: 'error', code });
    });
  }

  it('answers 400 for an event that is not from API Gateway', async () => {
    const res = await h().handler({ hello: 'world' });
    expect(res.statusCode).toBe(400);
  });

  it('accepts the REST API (payload 1.0) event shape', async () => {
    const harnessed = h();
    const name = await enrolled();
    const res = await harnessed.handler({
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(signedBootstrapRequest(harnessed.fleetKey, name, t.clock.now)),
      isBase64Encoded: false,
      requestContext: { requestId: 'r-1', identity: { sourceIp: '198.51.100.1' } },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('logging and metrics', () => {
  it('writes one line per request with request id, thing and outcome, and no ticket or signature', async () => {
    // Prepare
    const h = harness();
    const name = await enrolled();
    const body = signedBootstrapRequest(h.fleetKey, name, t.clock.now);
    const event = httpApiEvent(body);

    // Act
    const res = await h.handler(event);

    // Assess
    const ticket = String(parseAnswer(res)['ticket']);
    const lines = h.recorded.lines();
    expect(lines).toHaveLength(1);
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain(ticket.slice(3, 40));
    expect(line).not.toContain(body['thing-name-sig'].slice(0, 40));
    expect(lines[0]).toMatchObject({
      message: 'bootstrap',
      requestId: event.requestContext.requestId,
      thing: name,
      outcome: 'SUCCESS',
      status: 200,
      region: 'us-east-1',
      durationMs: expect.any(Number),
    });
  });

  it('counts each request by its outcome code, and a success by the region chosen', async () => {
    // Prepare
    const h = harness();
    const name = await enrolled();

    // Act
    await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, t.clock.now)));
    await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, 'never-enrolled-device', t.clock.now)));
    await h.handler(httpApiEvent('{', { rawBody: '{' }));

    // Assess
    expect(h.recorded.records.map((r) => r.dimensions)).toEqual([
      [{ Outcome: 'SUCCESS' }, { Region: 'us-east-1' }],
      [{ Outcome: 'UNAUTHORIZED' }],
      [{ Outcome: 'INVALID_REQUEST' }],
    ]);
  });
});
