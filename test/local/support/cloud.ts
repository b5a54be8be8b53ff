import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IConnackPacket, ISubackPacket } from 'mqtt-packet';
import { readProductTemplate } from '@global-iot/core/template/index.js';
import { type LocalCloud, type LocalCloudOptions, startLocalCloud } from '@global-iot/local/cloud.js';
import type { LocalFunction } from '@global-iot/local/lambda-endpoint.js';
import { createLogger } from '@global-iot/local/log.js';

/**
 * A local cloud for one test file: its own PKI in a temporary directory, no DynamoDB unless asked
 * for, and small test functions as hooks. The functions are real functions behind the real
 * Lambda endpoint, invoked through @aws-sdk/client-lambda, not mocks.
 */

export const TEMPLATE = 'TestFleet';
export const DENY_TEMPLATE = 'DenyFleet';
export const FAILING_TEMPLATE = 'FailingHookFleet';
export const BAD_ANSWER_TEMPLATE = 'BadAnswerFleet';

/** Every hook event the test functions saw, newest last. */
export interface HookLog {
  events: unknown[];
}

/** Hooks in every region: allow (supplying Region and AssignedAt), deny, throw, and a bad answer. */
export function testFunctions(regions: readonly string[], hookLog: HookLog): LocalFunction[] {
  return regions.flatMap((region) => [
    {
      region,
      name: 'allow-hook',
      handler: (event: unknown) => {
        hookLog.events.push(event);
        return { allowProvisioning: true, parameterOverrides: { Region: region, AssignedAt: '2026-11-28T12:00:00Z' } };
      },
    },
    { region, name: 'deny-hook', handler: () => ({ allowProvisioning: false }) },
    {
      region,
      name: 'failing-hook',
      handler: () => {
        throw new Error('registry unavailable');
      },
    },
    // AWS wants a real boolean: the string "true" must not provision.
    { region, name: 'bad-answer-hook', handler: () => ({ allowProvisioning: 'true' }) },
  ]);
}

export function testTemplates(): LocalCloudOptions['templates'] {
  const body = readProductTemplate();
  return [
    { templateName: TEMPLATE, templateBody: body, hookFunctionName: 'allow-hook' },
    { templateName: DENY_TEMPLATE, templateBody: body, hookFunctionName: 'deny-hook' },
    { templateName: FAILING_TEMPLATE, templateBody: body, hookFunctionName: 'failing-hook' },
    { templateName: BAD_ANSWER_TEMPLATE, templateBody: body, hookFunctionName: 'bad-answer-hook' },
  ];
}

export interface TestCloud {
  cloud: LocalCloud;
  hookLog: HookLog;
  /** The PEM files every client needs. */
  rootCa: string;
  claimCert: string;
  claimKey: string;
  close(): Promise<void>;
}

export async function startTestCloud(options: Partial<LocalCloudOptions> = {}): Promise<TestCloud> {
  const pkiDir = mkdtempSync(join(tmpdir(), 'local-cloud-test-'));
  const regions = (options.regions ?? ['us-east-1']).map((r) => (typeof r === 'string' ? r : r.region));
  const hookLog: HookLog = { events: [] };
  const cloud = await startLocalCloud({
    pkiDir,
    dynamo: false,
    deviceKeyAlgorithm: 'ec-p256',
    log: testLogger(),
    functions: testFunctions(regions, hookLog),
    templates: testTemplates(),
    ...options,
  });
  return asTestCloud(cloud, hookLog, () => rmSync(pkiDir, { recursive: true, force: true }));
}

/** Silent unless LOCAL_CLOUD_TEST_LOG=debug. */
export function testLogger() {
  return createLogger(process.env['LOCAL_CLOUD_TEST_LOG'] === 'debug' ? 'debug' : 'silent');
}

/** A started cloud with its client files read, for the helpers below. */
export function asTestCloud(cloud: LocalCloud, hookLog: HookLog = { events: [] }, cleanup: () => void = () => undefined): TestCloud {
  return {
    cloud,
    hookLog,
    rootCa: readFileSync(cloud.paths.rootCa, 'utf8'),
    claimCert: readFileSync(cloud.paths.claimCert, 'utf8'),
    claimKey: readFileSync(cloud.paths.claimKey, 'utf8'),
    close: async () => {
      await cloud.stop();
      cleanup();
    },
  };
}

/** Rejects after `ms` so that no network wait in a test can hang it. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ClientIdentity {
  cert: string;
  key: string;
}

/** An mqtt.js client on mutual TLS; resolves once CONNACK accepted it, rejects if refused. */
export async function connectMqtt(
  test: TestCloud,
  identity: ClientIdentity,
  clientId: string,
  extra: Partial<IClientOptions> & { region?: string } = {},
): Promise<MqttClient> {
  return (await connectMqttWithAck(test, identity, clientId, extra)).client;
}

/** A message an mqtt.js client received. */
export interface Received {
  readonly topic: string;
  readonly payload: string;
  /** performance.now() at arrival. */
  readonly at: number;
}

/**
 * connectMqtt, with the CONNACK (session present, MQTT 5 properties) and every message the
 * client receives from the first, the ones a resumed session sends right after CONNACK included.
 */
export async function connectMqttWithAck(
  test: TestCloud,
  identity: ClientIdentity,
  clientId: string,
  extra: Partial<IClientOptions> & { region?: string } = {},
): Promise<{ client: MqttClient; connack: IConnackPacket; received: Received[] }> {
  const { region, ...options } = extra;
  const endpoint = region ? test.cloud.region(region).endpoint : test.cloud.regions[0];
  if (!endpoint) throw new Error('no region');
  const client = mqtt.connect({
    protocol: 'mqtts',
    host: endpoint.address,
    port: endpoint.port,
    servername: endpoint.host,
    ca: test.rootCa,
    cert: identity.cert,
    key: identity.key,
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...options,
  });
  const received: Received[] = [];
  client.on('message', (topic: string, payload: Buffer) => received.push({ topic, payload: payload.toString('utf8'), at: performance.now() }));
  try {
    const connack = await within(
      new Promise<IConnackPacket>((resolve, reject) => {
        client.once('connect', (packet: IConnackPacket) => resolve(packet));
        client.once('error', reject);
        client.once('close', () => reject(new Error('connection closed before CONNACK')));
      }),
      8_000,
      `CONNACK for ${clientId}`,
    );
    return { client, connack, received };
  } catch (error) {
    client.end(true);
    throw error;
  }
}

/** Resolves with the next message on `topic` (exact name) that `client` receives. */
export function nextMessage(client: MqttClient, topic: string, ms = 8_000): Promise<Buffer> {
  return within(
    new Promise<Buffer>((resolve) => {
      const listener = (received: string, payload: Buffer) => {
        if (received !== topic) return;
        client.off('message', listener);
        resolve(payload);
      };
      client.on('message', listener);
    }),
    ms,
    `a message on ${topic}`,
  );
}

/** Resolves with the first message on either answer topic of a request. */
export function nextAnswer(client: MqttClient, requestTopic: string, ms = 8_000): Promise<{ outcome: 'accepted' | 'rejected'; payload: Buffer }> {
  return within(
    new Promise((resolve) => {
      const listener = (received: string, payload: Buffer) => {
        const outcome = received === `${requestTopic}/accepted` ? 'accepted' : received === `${requestTopic}/rejected` ? 'rejected' : undefined;
        if (!outcome) return;
        client.off('message', listener);
        resolve({ outcome, payload });
      };
      client.on('message', listener);
    }),
    ms,
    `an answer to ${requestTopic}`,
  );
}

/** Subscribes and returns the granted codes (mqtt.js rejects the promise on a refused one). */
export function subscribeCodes(client: MqttClient, filters: string[]): Promise<number[]> {
  return within(
    new Promise<number[]>((resolve, reject) => {
      client.subscribe(filters, { qos: 1 }, (error, _granted, packet) => {
        // mqtt.js reports a refused subscription as an error that carries the SUBACK.
        const suback = packet ?? (error as (Error & { packet?: ISubackPacket }) | null)?.packet;
        if (suback) resolve(suback.granted.map(Number));
        else reject(error ?? new Error('no SUBACK'));
      });
    }),
    8_000,
    'SUBACK',
  );
}

/** Resolves when the server closes the connection. */
export function closed(client: MqttClient, ms = 8_000): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      if (!client.connected) resolve();
      client.once('close', () => resolve());
    }),
    ms,
    'the connection to close',
  );
}
