/**
 * Bootstrap service benchmark (issue: bootstrap service). Measured in process:
 * signature verification per algorithm, region choice, the decision without DynamoDB (parse,
 * verify, geolocate, choose, sign the ticket), the whole handler against dynalite, and the size
 * of the bundled handler without the geolocation data.
 *
 *   npx tsx bench/bootstrap.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { build, type BuildOptions } from 'esbuild';
import { parseBootstrapBody } from '@global-iot/bootstrap-service/request.js';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { loadGeoTable } from '@global-iot/core/geo/table.js';
import { compileRegionPolicy } from '@global-iot/core/region-choice.js';
import { REGION_CATALOGUE } from '@global-iot/core/regions.js';
import { canonicalRequestBytes, parsePublicKey, signedBootstrapRequest, verifySignature } from '@global-iot/core/signing.js';
import { ed25519Signer, issueTicket } from '@global-iot/core/ticket.js';
import { httpApiEvent, makeHarness } from '../test/helpers/bootstrap.js';
import { startTestRegistry } from '../test/helpers/registry.js';
import { isMain, round, timeAsync, timeSync } from './stats.js';

const pem = (k: { export: (o: { type: 'spki'; format: 'pem' }) => string | Buffer }) => k.export({ type: 'spki', format: 'pem' }).toString();

export async function benchBootstrap(): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  const now = Date.now();

  // Signature verification per algorithm.
  const pairs = {
    rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    p256: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
    ed25519: generateKeyPairSync('ed25519'),
  };
  for (const [label, pair] of Object.entries(pairs)) {
    const body = signedBootstrapRequest(pair.privateKey, 'bench-device', now);
    const key = parsePublicKey(pem(pair.publicKey));
    const data = canonicalRequestBytes('bench-device', now);
    const sig = Buffer.from(body['thing-name-sig'], 'base64');
    const t = timeSync(() => verifySignature(key, data, sig), 3000);
    results[`bootstrap.verify_${label}_p50_us`] = t.p50;
    results[`bootstrap.verify_${label}_p99_us`] = t.p99;
  }

  // Region choice with every catalogue region enabled.
  const chooser = compileRegionPolicy({
    enabled: REGION_CATALOGUE.map((r) => r.code),
    defaultRegion: 'us-east-1',
    draining: [],
    residency: { DE: ['eu-central-1', 'eu-west-1'] },
  });
  const points = Array.from({ length: 1024 }, (_, i) => ({ lat: ((i * 37) % 180) - 90, lon: ((i * 91) % 360) - 180, country: i % 7 === 0 ? 'DE' : 'US' }));
  const choice = timeSync((i) => chooser.choose({ location: points[i % points.length] ?? { lat: 0, lon: 0 } }), 50_000);
  results['bootstrap.region_choice_p50_us'] = choice.p50;
  results['bootstrap.region_choice_p99_us'] = choice.p99;

  // The decision without DynamoDB.
  const table = loadGeoTable();
  const signer = ed25519Signer('bench', generateKeyPairSync('ed25519').privateKey);
  const fleet = parsePublicKey(pem(pairs.p256.publicKey));
  const raw = JSON.stringify(signedBootstrapRequest(pairs.p256.privateKey, 'bench-device', now));
  const ips = ['80.81.192.1', '210.130.0.1', '200.160.0.1', '139.130.4.5', '52.0.0.1', '115.112.0.1'];
  const decisionSamples: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const start = process.hrtime.bigint();
    const req = parseBootstrapBody(raw, false);
    const ok = verifySignature(fleet, canonicalRequestBytes(req['thing-name'], req.timestamp ?? 0), Buffer.from(req['thing-name-sig'], 'base64'));
    const where = table.lookup(ips[i % ips.length] ?? '');
    const picked = chooser.choose(where ? { location: where } : {});
    await issueTicket(signer, { thingName: req['thing-name'], region: picked.region, ttlSeconds: 900, nowMs: now });
    if (!ok) throw new Error('verification failed in benchmark');
    if (i >= 300) decisionSamples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  decisionSamples.sort((a, b) => a - b);
  results['bootstrap.decision_without_dynamodb_p50_ms'] = round((decisionSamples[Math.floor(decisionSamples.length / 2)] ?? 0) / 1000, 4);
  results['bootstrap.decision_without_dynamodb_p99_ms'] = round((decisionSamples[Math.floor(decisionSamples.length * 0.99)] ?? 0) / 1000, 4);

  // The whole handler against dynalite: one device, increasing timestamps.
  const reg = await startTestRegistry();
  try {
    await reg.registry.enroll({ thingName: 'bench-device' });
    // Admission off: one device asking a thousand times on a fixed clock would only be refused;
    // what admission costs at volume is in bench/burst.ts.
    const config = parseDeploymentConfig({
      homeRegion: 'us-east-1',
      regions: ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2', 'ap-south-1'],
      defaultRegion: 'us-east-1',
      admission: { enabled: false },
    });
    const h = makeHarness({ registry: reg.registry, now: () => reg.clock.now, config, fleetKey: pairs.p256.privateKey, fleetPublicKeys: [pem(pairs.p256.publicKey)], geo: { lookup: (ip) => table.lookup(ip) } });
    let ts = reg.clock.now - 200_000;
    const whole = await timeAsync(async (i) => {
      const res = await h.handler(httpApiEvent(signedBootstrapRequest(pairs.p256.privateKey, 'bench-device', ++ts), { sourceIp: ips[i % ips.length] ?? '' }));
      if (res.statusCode !== 200) throw new Error(`unexpected ${res.statusCode}: ${String(res.body)}`);
    }, 1000);
    results['bootstrap.handler_dynalite_p50_ms'] = round(whole.p50 / 1000);
    results['bootstrap.handler_dynalite_p99_ms'] = round(whole.p99 / 1000);
  } finally {
    await reg.close();
  }

  // The bundled handler, as NodejsFunction builds it (the AWS SDK comes with the Lambda runtime).
  const bundleOptions = {
    entryPoints: ['bootstrap-service/handler.ts'],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    write: false,
  } satisfies BuildOptions;
  const bundle = await build({ ...bundleOptions, external: ['@aws-sdk/*', '@smithy/*'] });
  results['bootstrap.bundle_bytes_without_aws_sdk'] = bundle.outputFiles.reduce((n, f) => n + f.contents.length, 0);
  const full = await build(bundleOptions);
  results['bootstrap.bundle_bytes_with_aws_sdk'] = full.outputFiles.reduce((n, f) => n + f.contents.length, 0);
  return results;
}

if (isMain(import.meta.url)) {
  const results = await benchBootstrap();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(48)} ${v}`);
}
