import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AWS_QUOTAS, InvalidQuotas, resolveAwsQuotas } from '@global-iot/local/iot/quotas.js';
import { KeyedRateLimiter } from '@global-iot/local/rate-limiter.js';
import { connectMqtt, startTestCloud, TEMPLATE, type TestCloud, within } from './support/cloud.js';
import { type Answer, decode } from './support/provisioning.js';

/**
 * AWS IoT's default quotas, with `awsQuotas: true`: per region, CreateKeysAndCertificate 10,
 * CreateCertificateFromCsr 20 and RegisterThing 10 requests a second, and one CONNECT a second
 * per client id. Each limit trips, and recovers a second later. The cloud's clock stands still
 * unless a test moves it, so a burst is a burst however slow the machine.
 */

const REGION = 'us-east-1';
let test: TestCloud;
let clock = Date.now();

beforeAll(async () => {
  test = await startTestCloud({ regions: [REGION], awsQuotas: true, now: () => clock });
});

afterAll(async () => {
  await test?.close();
});

const claimIdentity = () => ({ cert: test.claimCert, key: test.claimKey });

/** `count` requests at once (with a payload each answers with a 400); the answers as they arrive. */
async function burst(client: MqttClient, topic: string, count: number): Promise<Answer[]> {
  await client.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
  const answers: Answer[] = [];
  const all = within(
    new Promise<void>((resolve) => {
      const listener = (received: string, payload: Buffer) => {
        if (received !== `${topic}/accepted` && received !== `${topic}/rejected`) return;
        answers.push({ outcome: received.endsWith('/accepted') ? 'accepted' : 'rejected', body: decode('json', payload) });
        if (answers.length < count) return;
        client.off('message', listener);
        resolve();
      };
      client.on('message', listener);
    }),
    8_000,
    `${count} answers on ${topic}`,
  );
  await Promise.all(Array.from({ length: count }, () => client.publishAsync(topic, 'not json', { qos: 1 })));
  await all;
  return answers;
}

const throttled = (answers: Answer[]) => answers.filter((a) => a.body['statusCode'] === 429);

describe('fleet provisioning rates', () => {
  it.each([
    ['CreateKeysAndCertificate', '$aws/certificates/create/json', DEFAULT_AWS_QUOTAS.createKeysAndCertificatePerSecond],
    ['CreateCertificateFromCsr', '$aws/certificates/create-from-csr/json', DEFAULT_AWS_QUOTAS.createCertificateFromCsrPerSecond],
    ['RegisterThing', `$aws/provisioning-templates/${TEMPLATE}/provision/json`, DEFAULT_AWS_QUOTAS.registerThingPerSecond],
  ])('%s: a burst over the rate is throttled, and a second later requests go through again', async (_name, topic, rate) => {
    // Prepare
    const client = await connectMqtt(test, claimIdentity(), `prov-burst-${rate}-${topic.length}`);
    clock += 10_000;

    // Act
    const first = await burst(client, topic, rate + 2);
    clock += 1_000;
    const after = await burst(client, topic, rate);

    // Assess: the rate's worth is served (and refused for its bad payload), the rest throttled.
    expect(throttled(first)).toHaveLength(2);
    expect(throttled(first)[0]).toEqual({ outcome: 'rejected', body: { statusCode: 429, errorCode: 'Throttled', errorMessage: 'Rate exceeded.' } });
    expect(first.filter((a) => a.body['statusCode'] === 400)).toHaveLength(rate);
    expect(throttled(after)).toHaveLength(0);
    client.end(true);
  });
});

describe('CONNECT per client id', () => {
  it.each([4, 5] as const)('MQTT %s: a second CONNECT within the second is refused, and accepted a second later', async (protocolVersion) => {
    // Prepare
    const clientId = `prov-reconnecting-${protocolVersion}`;
    clock += 10_000;
    const first = await connectMqtt(test, claimIdentity(), clientId, { protocolVersion });
    first.end(true);

    // Act
    const again = connectMqtt(test, claimIdentity(), clientId, { protocolVersion });
    const refusal = await again.then(
      () => undefined,
      (error: unknown) => error,
    );
    clock += 1_000;
    const later = await connectMqtt(test, claimIdentity(), clientId, { protocolVersion });

    // Assess: "server unavailable" (3.1.1 has no rate code), MQTT 5's "connection rate exceeded".
    expect(refusal).toMatchObject({ code: protocolVersion === 5 ? 0x9f : 3 });
    expect(later.connected).toBe(true);
    later.end(true);
  });

  it('counts each client id on its own', async () => {
    // Prepare
    clock += 10_000;
    const one = await connectMqtt(test, claimIdentity(), 'prov-neighbour-one');

    // Act
    const two = await connectMqtt(test, claimIdentity(), 'prov-neighbour-two');

    // Assess
    expect(two.connected).toBe(true);
    one.end(true);
    two.end(true);
  });
});

describe('settings', () => {
  it('names the setting that is wrong', () => {
    // Act
    const attempt = () => resolveAwsQuotas({ registerThingPerSecond: 0 });

    // Assess
    expect(attempt).toThrow(InvalidQuotas);
    expect(attempt).toThrow(/awsQuotas\.registerThingPerSecond/);
  });

  it('is off unless asked for, and AWS\'s defaults when asked for', () => {
    // Act
    const off = resolveAwsQuotas(undefined);
    const on = resolveAwsQuotas(true);

    // Assess
    expect(off).toBeUndefined();
    expect(on).toEqual({ createKeysAndCertificatePerSecond: 10, createCertificateFromCsrPerSecond: 20, registerThingPerSecond: 10, connectsPerSecondPerClientId: 1 });
  });

  it('forgets client ids whose bucket has refilled, so memory stays bounded', () => {
    // Prepare
    let now = 0;
    const limiter = new KeyedRateLimiter(1, () => now, 10);
    for (let i = 0; i < 9; i++) limiter.take(`client-${i}`);
    now += 1_000;

    // Act: the tenth take sweeps; the refilled buckets go, and client-0 starts afresh.
    limiter.take('client-9');
    const again = [limiter.take('client-0'), limiter.take('client-0')];

    // Assess
    expect(again).toEqual([true, false]);
    expect((limiter as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(2);
  });
});
