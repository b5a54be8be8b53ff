import '../../local/support/reflect-polyfill.js';
import type { KeyObject } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import * as z from 'zod';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { withTimeout } from '@global-iot/core/timeout.js';
import { createCsr } from '../../local/support/csr.js';
import { readAnswer } from './http.js';
import { claimClientId, DEFAULT_CLAIM_CLIENT_ID_PREFIX } from '@global-iot/core/claim-client-id.js';
import { confirmationTopic, DEFAULT_CONFIRMATION_RULE_NAME } from '@global-iot/core/confirmation.js';

/**
 * A device as firmware would write it, with raw clients (node:https and mqtt.js): bootstrap,
 * fleet provisioning over MQTT with the claim certificate, then a connection with the new
 * certificate. It retries the way the README asks a device to (newer timestamps, fallbacks,
 * Retry-After), keeps credentials whose RegisterThing outcome it could not see until it knows,
 * and can be told to lose its connection right after one step, once.
 */

/** Where a connection can be cut: right after this step was sent or answered. */
export const CUT_POINTS = [
  'bootstrap-request',
  'bootstrap-answer',
  'claim-connect',
  'create-request',
  'create-answer',
  'register-request',
  'register-answer',
  'device-connect',
] as const;
export type CutPoint = (typeof CUT_POINTS)[number];

export interface MqttTarget {
  readonly address: string;
  readonly port: number;
  readonly servername: string;
}

export interface DeviceEnvironment {
  readonly bootstrapUrl: string;
  readonly ca: string;
  readonly claim: { readonly cert: string; readonly key: string };
  readonly fleetKey: KeyObject;
  /** The local cloud serves every region on one host, a port each; DescribeEndpoint cannot say which. */
  target(region: string): MqttTarget;
  /** Told every secret the device handles, for the log audit. */
  readonly onSecret?: (secret: string) => void;
}

export interface DeviceSpec {
  readonly thingName: string;
  /** Demo mode only: the simulated public address the bootstrap geolocates. */
  readonly sourceIp?: string;
  readonly certificateMode: 'keys' | 'csr';
  readonly cutAfter?: CutPoint;
  /** Return the new certificate and key with the result, for a later "next boot" connection. */
  readonly keepCredentials?: boolean;
}

export interface DeviceLimits {
  readonly maxRounds: number;
  readonly deadlineMs: number;
  /** How long a RegisterThing without an answer may still land: IoT's hook limit plus margin. */
  readonly outcomeWindowMs: number;
  readonly maxBackoffMs: number;
  /** The least a device waits between rounds, whatever the jitter. */
  readonly minBackoffMs?: number;
  /**
   * RegisterThing retries with the same token and ticket after an AccessDenied, before a new
   * bootstrap. 0 is the plainest device: straight back to the bootstrap.
   */
  readonly sameTokenRetries: number;
}

export const DEFAULT_LIMITS: DeviceLimits = { maxRounds: 40, deadlineMs: 120_000, outcomeWindowMs: 7_000, maxBackoffMs: 2_000, sameTokenRetries: 2 };

/** Milliseconds per step of the round that succeeded. */
export interface StepTimes {
  /** The HTTPS bootstrap request and its answer. */
  bootstrap: number;
  /** TLS and CONNECT with the claim certificate, the answer-topic subscriptions, and in CSR mode the key pair and CSR. */
  claimConnect: number;
  /** CreateKeysAndCertificate or CreateCertificateFromCsr. */
  createCertificate: number;
  /** RegisterThing with the hook, same-token retries included. */
  registerThing: number;
  /** TLS and CONNECT with the new certificate. */
  deviceConnect: number;
}

export interface DeviceResult {
  readonly thingName: string;
  readonly ok: boolean;
  readonly region?: string;
  readonly certificateId?: string;
  readonly rounds: number;
  readonly durationMs: number;
  /** Step durations of the round that succeeded. */
  readonly steps?: StepTimes;
  /** Regions that did not answer on MQTT at some point. */
  readonly unreachableRegions: readonly string[];
  /** RegisterThing rejections seen, by error code. */
  readonly rejections: Readonly<Record<string, number>>;
  /** Bootstrap refusals seen, by code. */
  readonly bootstrapRefusals: Readonly<Record<string, number>>;
  /** A short trail of what happened, for a failure's diagnosis; never a secret. */
  readonly trail: readonly string[];
  readonly error?: string;
  readonly credentials?: { readonly cert: string; readonly key: string };
  /** AWS IoT acknowledged the device's confirmation publish: a later boot does not publish it again. */
  readonly confirmationAcknowledged?: boolean;
}

class Transient extends Error {
  override name = 'Transient';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

class RegionUnreachable extends Error {
  override name = 'RegionUnreachable';
  constructor(readonly region: string, options?: ErrorOptions) {
    super(`region ${region} did not answer`, options);
  }
}

class DeviceFailed extends Error {
  override name = 'DeviceFailed';
}

class ConnectionCut extends Error {
  override name = 'ConnectionCut';
}

const answerSchema = z.object({
  status: z.literal('success'),
  region: z.string(),
  endpointAddress: z.string(),
  templateName: z.string(),
  ticket: z.string(),
  fallbacks: z.array(z.object({ region: z.string(), endpointAddress: z.string() })),
});
type BootstrapAnswer = z.infer<typeof answerSchema>;

const errorSchema = z.object({ status: z.literal('error'), code: z.string() });
const createdSchema = z.object({
  certificateId: z.string(),
  certificatePem: z.string(),
  privateKey: z.string().optional(),
  certificateOwnershipToken: z.string(),
});
const rejectedSchema = z.object({ statusCode: z.number().optional(), errorCode: z.string().optional() });

interface Credentials {
  readonly region: string;
  readonly certificateId: string;
  readonly cert: string;
  readonly key: string;
  /** When the RegisterThing was sent whose outcome is not known; undefined once accepted. */
  readonly unknownSince?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(promise, ms, () => new Transient(`no ${what} within ${ms} ms`));
}

/** POSTs the bootstrap request; `cut` drops the connection once the request is written. */
function postBootstrap(
  env: DeviceEnvironment,
  body: unknown,
  sourceIp: string | undefined,
  cut: boolean,
): Promise<{ status: number; retryAfter?: string; json: unknown }> {
  return within(
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const req = httpsRequest(
        `${env.bootstrapUrl}/bootstrap`,
        {
          method: 'POST',
          ca: env.ca,
          // A connection of its own, as a real device has: devices never share one.
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            ...(sourceIp ? { 'x-demo-source-ip': sourceIp } : {}),
          },
        },
        (res) => {
          readAnswer(res).then(({ status, headers, text, json }) => {
            const retryAfter = headers['retry-after'];
            resolve({ status, ...(typeof retryAfter === 'string' ? { retryAfter } : {}), json: json === undefined ? text : json });
          }, reject);
        },
      );
      req.on('error', (error) => reject(cut ? new ConnectionCut('bootstrap request cut after sending') : new Transient(`bootstrap: ${error.message}`)));
      if (cut) req.end(text, () => req.destroy());
      else req.end(text);
    }),
    15_000,
    'bootstrap answer',
  );
}

export type ConnectOutcome = { kind: 'connected'; client: MqttClient } | { kind: 'refused'; code: number } | { kind: 'unreachable'; error: string };

/** Parsing keys and certificates costs more than the handshake: the shared claim identity is parsed once. */
const contexts = new WeakMap<object, SecureContext>();

function secureContextOf(ca: string, identity: { cert: string; key: string }): SecureContext {
  let context = contexts.get(identity);
  if (!context) {
    context = createSecureContext({ ca, cert: identity.cert, key: identity.key });
    contexts.set(identity, context);
  }
  return context;
}

export function connectMqtt(env: DeviceEnvironment, region: string, identity: { cert: string; key: string }, clientId: string): Promise<ConnectOutcome> {
  const target = env.target(region);
  const options: IClientOptions & { secureContext: SecureContext } = {
    protocol: 'mqtts',
    host: target.address,
    port: target.port,
    servername: target.servername,
    secureContext: secureContextOf(env.ca, identity),
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    keepalive: 60,
  };
  const client = mqtt.connect(options);
  return within(
    new Promise<ConnectOutcome>((resolve) => {
      client.once('connect', () => resolve({ kind: 'connected', client }));
      client.once('error', (error: Error & { code?: unknown }) => {
        client.end(true);
        resolve(typeof error.code === 'number' ? { kind: 'refused', code: error.code } : { kind: 'unreachable', error: error.message });
      });
      client.once('close', () => {
        client.end(true);
        resolve({ kind: 'unreachable', error: 'closed before CONNACK' });
      });
    }),
    8_000,
    'CONNACK',
  ).catch((error: unknown) => {
    client.end(true);
    return { kind: 'unreachable', error: error instanceof Error ? error.message : String(error) } as const;
  });
}

/** Drops the TCP connection without DISCONNECT, as a lost link does. */
function cutConnection(client: MqttClient): void {
  client.stream.destroy();
  client.end(true);
}

type Answer = { outcome: 'accepted' | 'rejected'; body: unknown } | { outcome: 'lost' };

/** Publishes a request and waits for its answer, or for the connection to go. */
function ask(client: MqttClient, topic: string, payload: unknown, ms: number, cutAfterSend: boolean): Promise<Answer> {
  // Nothing sent on a connection already gone: the request certainly did not happen.
  if (!client.connected) return Promise.reject(new ConnectionCut(`connection gone before ${topic}`));
  return within(
    new Promise<Answer>((resolve, reject) => {
      const onMessage = (received: string, message: Buffer) => {
        const outcome = received === `${topic}/accepted` ? 'accepted' : received === `${topic}/rejected` ? 'rejected' : undefined;
        if (!outcome) return;
        done();
        try {
          resolve({ outcome, body: JSON.parse(message.toString('utf8')) as unknown });
        } catch (error) {
          reject(new DeviceFailed(`unparsable answer on ${received}`, { cause: error }));
        }
      };
      const onClose = () => {
        done();
        resolve({ outcome: 'lost' });
      };
      const done = () => {
        client.off('message', onMessage);
        client.off('close', onClose);
      };
      client.on('message', onMessage);
      client.on('close', onClose);
      client.publish(topic, JSON.stringify(payload), { qos: 1 }, (error) => {
        if (error) onClose();
        else if (cutAfterSend) cutConnection(client);
      });
    }),
    ms,
    `answer on ${topic}`,
  ).catch((error: unknown) => {
    if (error instanceof Transient) return { outcome: 'lost' } as const;
    throw error;
  });
}

function subscribe(client: MqttClient, filters: string[]): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      client.subscribe(filters, { qos: 1 }, (error, granted) => {
        if (error) return reject(new Transient(`subscribe: ${error.message}`));
        if (granted?.some((g) => g.qos === 128)) return reject(new DeviceFailed('a subscription was refused'));
        resolve();
      });
    }),
    8_000,
    'SUBACK',
  );
}

function certificateRequest(mode: 'keys' | 'csr', thingName: string) {
  return mode === 'keys'
    ? Promise.resolve({ topic: '$aws/certificates/create/json', payload: {}, key: undefined })
    : createCsr('ec-p256', thingName).then((csr) => ({
        topic: '$aws/certificates/create-from-csr/json',
        payload: { certificateSigningRequest: csr.csrPem },
        key: csr.privateKeyPem,
      }));
}

/** Provisions one device, retrying within the limits; never throws. */
export async function runDevice(env: DeviceEnvironment, spec: DeviceSpec, limits: DeviceLimits = DEFAULT_LIMITS): Promise<DeviceResult> {
  const started = performance.now();
  const { thingName } = spec;
  const trail: string[] = [];
  const note = (text: string) => {
    if (trail.length < 60) trail.push(text);
  };
  const unreachable = new Set<string>();
  const rejections: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  let cutPending = spec.cutAfter;
  let lastTimestamp = 0;
  let pending: Credentials | undefined;
  let lastAnswer: BootstrapAnswer | undefined;
  let round = 0;

  /** True once: the step where the connection is to be cut. */
  const cutHere = (point: CutPoint): boolean => {
    if (cutPending !== point) return false;
    cutPending = undefined;
    note(`cut after ${point}`);
    return true;
  };

  const finish = (ok: boolean, extra: Partial<DeviceResult>): DeviceResult => ({
    thingName,
    ok,
    rounds: round,
    durationMs: performance.now() - started,
    unreachableRegions: [...unreachable],
    rejections,
    bootstrapRefusals: refusals,
    trail,
    ...extra,
  });

  let acknowledged = false;

  /**
   * Connects with credentials the device holds and publishes the confirmation (Basic Ingest, QoS
   * 1); 'connected' ends the flow once AWS IoT acknowledged it. A connection cut before that, or a
   * publish without its PUBACK, leaves the credentials pending: the next round publishes again, as
   * the device client's next run does.
   */
  async function useCredentials(credentials: Credentials): Promise<'connected' | 'refused' | 'unreachable'> {
    const outcome = await connectMqtt(env, credentials.region, credentials, thingName);
    if (outcome.kind === 'connected') {
      if (cutHere('device-connect')) {
        cutConnection(outcome.client);
        throw new ConnectionCut('cut before the confirmation');
      }
      acknowledged = await publishConfirmation(outcome.client);
      await outcome.client.endAsync();
      if (!acknowledged) throw new Transient('the confirmation was not acknowledged');
      return 'connected';
    }
    note(`device connect ${outcome.kind === 'refused' ? `refused ${outcome.code}` : 'unreachable'}`);
    if (outcome.kind === 'unreachable') unreachable.add(credentials.region);
    return outcome.kind;
  }

  /**
   * Credentials whose RegisterThing may have landed: connecting tells. A refusal is final only
   * once the request can no longer be in flight.
   */
  async function resolvePending(credentials: Credentials): Promise<'connected' | 'dropped' | 'unreachable'> {
    for (;;) {
      const outcome = await useCredentials(credentials);
      if (outcome === 'connected' || outcome === 'unreachable') return outcome;
      if (credentials.unknownSince === undefined) throw new DeviceFailed('a certificate that RegisterThing accepted was refused');
      if (performance.now() - credentials.unknownSince > limits.outcomeWindowMs) return 'dropped';
      await sleep(500);
    }
  }

  async function bootstrapOnce(): Promise<BootstrapAnswer> {
    lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
    const body: Record<string, unknown> = signedBootstrapRequest(env.fleetKey, thingName, lastTimestamp);
    env.onSecret?.(String(body['thing-name-sig']));
    const preferred = lastAnswer?.fallbacks.find((f) => !unreachable.has(f.region))?.region;
    if (lastAnswer && unreachable.has(lastAnswer.region) && preferred) body['preferred-region'] = preferred;
    const cut = cutHere('bootstrap-request');
    const res = await postBootstrap(env, body, spec.sourceIp, cut);
    if (res.status === 200) {
      const answer = answerSchema.parse(res.json);
      env.onSecret?.(answer.ticket);
      lastAnswer = answer;
      note(`r${round}: bootstrap ${answer.region}`);
      if (cutHere('bootstrap-answer')) throw new ConnectionCut('answer dropped');
      return answer;
    }
    const parsed = errorSchema.safeParse(res.json);
    const code = parsed.success ? parsed.data.code : `HTTP_${res.status}`;
    refusals[code] = (refusals[code] ?? 0) + 1;
    note(`r${round}: bootstrap ${res.status} ${code}`);
    if (res.status === 409 && code === 'ALREADY_PROVISIONED') throw new DeviceFailed('provisioned, but this device holds no certificate for it');
    if (res.status >= 500 || res.status === 429 || code === 'CONFLICT' || code === 'REPLAYED_REQUEST') {
      const seconds = Number(res.retryAfter);
      throw new Transient(`bootstrap ${code}`, Number.isFinite(seconds) ? seconds * 1000 : undefined);
    }
    throw new DeviceFailed(`bootstrap refused: ${res.status} ${code}`);
  }

  /** One pass through the flow; returns the credentials once connected with them. */
  async function attempt(): Promise<Credentials> {
    const times: Partial<StepTimes> = {};
    let accepted: Credentials;
    let at = performance.now();
    const lap = (step: keyof StepTimes) => {
      const now = performance.now();
      times[step] = now - at;
      at = now;
    };
    const answer = await bootstrapOnce();
    lap('bootstrap');
    const region = answer.region;
    const connected = await connectMqtt(env, region, env.claim, claimClientId(DEFAULT_CLAIM_CLIENT_ID_PREFIX, thingName));
    if (connected.kind !== 'connected') {
      note(`r${round}: claim connect ${connected.kind === 'refused' ? `refused ${connected.code}` : `unreachable (${connected.error})`}`);
      unreachable.add(region);
      throw new RegionUnreachable(region);
    }
    const client = connected.client;
    try {
      if (cutHere('claim-connect')) {
        cutConnection(client);
        throw new ConnectionCut('claim connection cut');
      }
      const request = await certificateRequest(spec.certificateMode, thingName);
      const registerTopic = `$aws/provisioning-templates/${answer.templateName}/provision/json`;
      await subscribe(client, [`${request.topic}/accepted`, `${request.topic}/rejected`, `${registerTopic}/accepted`, `${registerTopic}/rejected`]);
      lap('claimConnect');
      const created = await ask(client, request.topic, request.payload, 10_000, cutHere('create-request'));
      if (created.outcome === 'lost') {
        note(`r${round}: certificate answer lost`);
        throw new ConnectionCut('no answer to the certificate request');
      }
      if (created.outcome === 'rejected') throw new Transient(`certificate request rejected: ${JSON.stringify(created.body)}`);
      const certificate = createdSchema.parse(created.body);
      const key = certificate.privateKey ?? request.key;
      if (!key) throw new DeviceFailed('no private key for the new certificate');
      env.onSecret?.(key.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '').slice(0, 64));
      lap('createCertificate');
      if (cutHere('create-answer')) {
        cutConnection(client);
        throw new ConnectionCut('cut after the certificate');
      }
      const credentials: Credentials = { region, certificateId: certificate.certificateId, cert: certificate.certificatePem, key };
      const register = { certificateOwnershipToken: certificate.certificateOwnershipToken, parameters: { ThingName: thingName, Ticket: answer.ticket } };
      // A refused RegisterThing hands the token back. Denied because the hook answered late, the
      // same certificate and ticket may still go through (the hook's late write names exactly
      // them), where a new certificate would need a new ticket and spend one of the attempts.
      for (let sameToken = 0; ; sameToken++) {
        const registerSent = performance.now();
        const registered = await ask(client, registerTopic, register, 10_000, cutHere('register-request'));
        if (registered.outcome === 'lost') {
          note(`r${round}: RegisterThing answer lost`);
          pending = { ...credentials, unknownSince: registerSent };
          throw new ConnectionCut('no answer to RegisterThing');
        }
        if (registered.outcome === 'accepted') break;
        const body = rejectedSchema.safeParse(registered.body);
        const code = body.success ? `${body.data.statusCode ?? '?'} ${body.data.errorCode ?? '?'}` : 'unparsable';
        rejections[code] = (rejections[code] ?? 0) + 1;
        note(`r${round}: RegisterThing rejected ${code}`);
        if (code !== '403 AccessDenied' || sameToken >= limits.sameTokenRetries) throw new Transient(`RegisterThing rejected: ${code}`);
        await sleep(250 * 2 ** sameToken);
      }
      lap('registerThing');
      accepted = credentials;
      pending = credentials;
      if (cutHere('register-answer')) {
        cutConnection(client);
        throw new ConnectionCut('cut after RegisterThing');
      }
    } finally {
      client.end(true);
    }
    const outcome = await useCredentials(accepted);
    if (outcome !== 'connected') throw new RegionUnreachable(region);
    lap('deviceConnect');
    lastTimes = times as StepTimes;
    return accepted;
  }

  let lastTimes: StepTimes | undefined;
  const succeeded = (credentials: Credentials): Partial<DeviceResult> => ({
    region: credentials.region,
    certificateId: credentials.certificateId,
    confirmationAcknowledged: acknowledged,
    ...(spec.keepCredentials ? { credentials: { cert: credentials.cert, key: credentials.key } } : {}),
  });
  while (round < limits.maxRounds && performance.now() - started < limits.deadlineMs) {
    round++;
    let retryAfterMs: number | undefined;
    try {
      if (pending) {
        const credentials = pending;
        const outcome = await resolvePending(credentials);
        if (outcome === 'connected') return finish(true, succeeded(credentials));
        if (outcome === 'dropped') {
          note(`r${round}: dropped credentials whose RegisterThing did not land`);
          pending = undefined;
        }
        if (outcome === 'unreachable') throw new RegionUnreachable(credentials.region);
      }
      const credentials = await attempt();
      return finish(true, { ...succeeded(credentials), ...(lastTimes ? { steps: lastTimes } : {}) });
    } catch (error) {
      if (error instanceof DeviceFailed) return finish(false, { error: error.message });
      if (!(error instanceof Transient || error instanceof RegionUnreachable || error instanceof ConnectionCut)) {
        return finish(false, { error: `unexpected: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` });
      }
      if (error instanceof RegionUnreachable) note(`r${round}: ${error.message}`);
      if (error instanceof Transient) {
        retryAfterMs = error.retryAfterMs;
        if (!error.message.startsWith('bootstrap') && !error.message.startsWith('RegisterThing')) note(`r${round}: ${error.message}`);
      }
    }
    const backoff = Math.min(limits.maxBackoffMs, retryAfterMs ?? 50 * 2 ** Math.min(round, 6));
    await sleep(Math.max(limits.minBackoffMs ?? 0, backoff * (0.5 + Math.random() / 2)));
  }
  return finish(false, { error: `gave up after ${round} rounds` });
}

/** The confirmation, as the device client publishes it; true once AWS IoT acknowledged it. */
async function publishConfirmation(client: MqttClient): Promise<boolean> {
  return client.publishAsync(confirmationTopic(DEFAULT_CONFIRMATION_RULE_NAME), '{}', { qos: 1 }).then(
    () => true,
    () => false,
  );
}

/**
 * The device's next boot: it connects with the certificate it holds and, if it never saw its
 * confirmation acknowledged, publishes it again. True when the connection was accepted.
 */
export async function reconnect(env: DeviceEnvironment, result: DeviceResult): Promise<boolean> {
  if (!result.credentials || !result.region) return false;
  const outcome = await connectMqtt(env, result.region, result.credentials, result.thingName);
  if (outcome.kind !== 'connected') return false;
  if (!result.confirmationAcknowledged) await publishConfirmation(outcome.client);
  await outcome.client.endAsync();
  return true;
}
