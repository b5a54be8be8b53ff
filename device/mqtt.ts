import { createHash } from 'node:crypto';
import { io, iot, iotidentity, iotshadow, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2';
import * as z from 'zod';
import { BoundedCache } from '@global-iot/core/bounded-cache.js';
import { describeError } from '@global-iot/core/errors.js';
import { withTimeout } from '@global-iot/core/timeout.js';
import { classifyConnectFailure, type ConnectFailure, crtErrorName } from './connect-failure.js';
import { AwsRejected, InvalidAwsAnswer, MqttConnectFailed, MqttRequestFailed } from './errors.js';

/**
 * The device's MQTT side, on the AWS IoT Device SDK v2 (the CRT client real devices use): mutual
 * TLS with SNI for the endpoint's host name, client id = thing name, MQTT 3.1.1 or 5, and the
 * fleet provisioning API through `IotIdentityClientv2`. Every answer is validated here, so the
 * flow above only sees typed results or named errors.
 */

export type MqttProtocol = 'mqtt311' | 'mqtt5';

export interface MqttTarget {
  readonly region: string;
  readonly host: string;
  readonly port: number;
}

export interface MqttCredentials {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface CreatedCertificate {
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly certificateOwnershipToken: string;
  /** Only from CreateKeysAndCertificate. */
  readonly privateKeyPem?: string;
}

export interface RegisteredThing {
  readonly thingName?: string;
  readonly deviceConfiguration: Record<string, string>;
}

/** One MQTT connection with the fleet provisioning API on it. */
export interface IdentitySession {
  createCertificateFromCsr(csrPem: string): Promise<CreatedCertificate>;
  createKeysAndCertificate(): Promise<CreatedCertificate>;
  registerThing(templateName: string, certificateOwnershipToken: string, parameters: Record<string, string>): Promise<RegisteredThing>;
  close(): Promise<void>;
}

/** A classic shadow's state as the device reads it (`/get/accepted`). */
export interface ShadowState {
  readonly desired: Readonly<Record<string, unknown>>;
  readonly reported: Readonly<Record<string, unknown>>;
}

/**
 * A provisioned device's own connection (client id = thing name, its own certificate): its
 * classic shadow, and the provisioning API, which a rotation uses over the current certificate.
 */
export interface DeviceSession extends IdentitySession {
  /** The thing's classic shadow; empty when it has none yet. */
  getShadow(thingName: string): Promise<ShadowState>;
  /** Merges `reported` into the shadow's reported state. */
  updateReported(thingName: string, reported: Record<string, unknown>): Promise<void>;
  /**
   * Calls `listener` with the state of every `/shadow/update/delta` from now on; resolves once
   * the subscription is in place. Closing the session ends it.
   */
  onDelta(thingName: string, listener: (state: Readonly<Record<string, unknown>>) => void): Promise<void>;
}

export interface MqttTransport {
  /** Connects with the given (claim) credentials and opens the provisioning API on the connection. */
  openIdentitySession(target: MqttTarget, clientId: string, credentials: MqttCredentials): Promise<IdentitySession>;
  /** Connects with a provisioned device's own credentials: its shadow and the provisioning API. */
  openDeviceSession(target: MqttTarget, clientId: string, credentials: MqttCredentials): Promise<DeviceSession>;
  /** Connects and disconnects: proves the credentials work (a later run's check). */
  checkConnection(target: MqttTarget, clientId: string, credentials: MqttCredentials): Promise<void>;
  /**
   * Connects, publishes one message at QoS 1, waits for its PUBACK, and disconnects: resolves
   * once AWS IoT has acknowledged the message (the provisioning confirmation).
   */
  publishAcknowledged(target: MqttTarget, clientId: string, credentials: MqttCredentials, topic: string, payload: string): Promise<void>;
}

export interface CrtTransportOptions {
  protocol: MqttProtocol;
  /** PEM bundle of roots for the endpoint's server certificate; the system's when absent. */
  caPem?: string;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  keepAliveSeconds?: number;
  /** One bootstrap (event loop group + resolver) for every connection of the process. */
  clientBootstrap?: io.ClientBootstrap;
}

const createdCertificateSchema = z.object({
  certificateId: z.string().min(1).max(128),
  certificatePem: z.string().min(1).max(65_536),
  certificateOwnershipToken: z.string().min(1).max(8192),
});
const createdKeysSchema = createdCertificateSchema.extend({ privateKey: z.string().min(1).max(65_536) });
const registeredSchema = z.object({
  thingName: z.string().optional(),
  deviceConfiguration: z.record(z.string(), z.string()).optional(),
});
const jsonObject = z.record(z.string(), z.unknown());
const shadowGetSchema = z.object({ state: z.object({ desired: jsonObject.optional(), reported: jsonObject.optional() }).optional() });
const shadowRejectionSchema = z.object({ code: z.number().optional(), message: z.string().optional() });
const rejectionSchema = z.object({
  statusCode: z.number().optional(),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
});

function validated<T>(schema: z.ZodType<T>, value: unknown, operation: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidAwsAnswer(`${operation} answer is invalid: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}

/** A rejected answer as AWS sent it; anything else (time-out, connection lost) as a request failure. */
function translateServiceError(operation: string, error: unknown): Error {
  const modeled = (error as { modeledError?: unknown } | undefined)?.modeledError;
  if (modeled !== undefined) {
    const parsed = rejectionSchema.safeParse(modeled);
    if (parsed.success && (parsed.data.statusCode !== undefined || parsed.data.errorCode !== undefined)) {
      return new AwsRejected(operation, parsed.data.statusCode, parsed.data.errorCode, parsed.data.errorMessage);
    }
    // The Device Shadow service's rejections name their status `code`.
    const shadow = shadowRejectionSchema.safeParse(modeled);
    if (shadow.success) return new AwsRejected(operation, shadow.data.code, undefined, shadow.data.message);
  }
  const internal = (error as { internalError?: unknown } | undefined)?.internalError;
  const detail = internal === undefined ? describeError(error) : `${describeError(error)} (${describeError(internal)})`;
  return new MqttRequestFailed(`${operation}: ${detail}`, { cause: error });
}

/** What differs between the MQTT 3.1.1 and 5 clients: how to connect, publish, close. */
interface Connection {
  readonly identity: () => iotidentity.IotIdentityClientv2;
  readonly shadow: () => iotshadow.IotShadowClientv2;
  /** A QoS 1 PUBLISH; resolves on a successful PUBACK, rejects (MqttRequestFailed) otherwise. */
  publishQos1(topic: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

/** MQTT 5 PUBACK reason codes from 0x80 on are failures (0x10, "no matching subscribers", is not). */
const MQTT5_PUBACK_FAILURE = 0x80;

function describeTarget(target: MqttTarget): string {
  return `${target.host}:${target.port} (${target.region})`;
}

type RrOptions = { maxRequestResponseSubscriptions: number; maxStreamingSubscriptions: number; operationTimeoutInSeconds: number };

/**
 * Connection settings per credentials, built once: building one makes a TLS context, which
 * costs milliseconds of the main thread (key, certificate and trust store parsing). The fleet's
 * claim credentials are the same for every device, so their context is shared, as the SDK's own
 * builders share theirs between connections.
 */
export class ConfigCache<T> {
  private readonly cache: BoundedCache<string, T>;

  constructor(limit: number) {
    this.cache = new BoundedCache(limit);
  }

  get(credentials: MqttCredentials, build: () => T): T {
    const key = createHash('sha256').update(credentials.certificatePem).update('\0').update(credentials.privateKeyPem).digest('hex');
    return this.cache.get(key, build);
  }
}

/** The SDK's default socket (the address family follows the resolved address) with our connect time-out. */
function socketOptions(options: CrtTransportOptions): io.SocketOptions {
  return new io.SocketOptions(io.SocketType.STREAM, undefined, options.connectTimeoutMs);
}

/**
 * The error for a failed connect, after cleaning up: the connect failure is the message, with
 * what kind of failure it was; a failure of the clean-up too is kept beside it in `cause`.
 */
async function connectFailure(target: MqttTarget, error: unknown, failure: ConnectFailure, close: () => Promise<void>): Promise<MqttConnectFailed> {
  const message = error instanceof Error ? error.message : String(error);
  const kind = classifyConnectFailure(failure);
  let cause: unknown = error;
  try {
    await close();
  } catch (closeError) {
    cause = new AggregateError([error, closeError], 'connect and clean-up both failed');
  }
  return new MqttConnectFailed(describeTarget(target), message, { cause }, kind, failure.reasonCode);
}

function connect311Factory(options: CrtTransportOptions, rrOptions: RrOptions) {
  const configs = new ConfigCache<mqtt.MqttConnectionConfig>(8);
  const base = (credentials: MqttCredentials): mqtt.MqttConnectionConfig =>
    configs.get(credentials, () => {
      const builder = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(credentials.certificatePem, credentials.privateKeyPem)
        // Placeholders: each connection sets its own endpoint, port and client id below.
        .with_endpoint('placeholder')
        .with_client_id('placeholder')
        .with_clean_session(true)
        .with_keep_alive_seconds(options.keepAliveSeconds ?? 60)
        .with_ping_timeout_ms(Math.min(options.operationTimeoutMs, 30_000))
        .with_protocol_operation_timeout_ms(options.operationTimeoutMs)
        .with_socket_options(socketOptions(options));
      if (options.caPem !== undefined) builder.with_certificate_authority(options.caPem);
      return builder.build();
    });

  return async (target: MqttTarget, clientId: string, credentials: MqttCredentials): Promise<Connection> => {
    const config: mqtt.MqttConnectionConfig = { ...base(credentials), host_name: target.host, port: target.port, client_id: clientId };
    const client = new mqtt.MqttClient(options.clientBootstrap);
    const connection = client.new_connection(config);
    // Errors surface through connect()'s promise and the request results; the listener keeps an
    // unhandled 'error' event from crashing the process.
    connection.on('error', () => undefined);
    // The CRT's own name for a failure, which the rejection below carries only as text.
    let failureName: string | undefined;
    connection.on('connection_failure', (result) => {
      failureName = result.error.error_name;
    });
    let identity: iotidentity.IotIdentityClientv2 | undefined;
    let shadow: iotshadow.IotShadowClientv2 | undefined;
    const close = async (): Promise<void> => {
      identity?.close();
      shadow?.close();
      // disconnect() also frees the native connection, so the CRT keeps nothing alive afterwards.
      await withTimeout(connection.disconnect(), options.operationTimeoutMs, () => new MqttRequestFailed('disconnect timed out'));
    };
    try {
      await withTimeout(connection.connect(), options.connectTimeoutMs, () => new Error(`no CONNACK within ${options.connectTimeoutMs} ms`));
    } catch (error) {
      const errorName = failureName ?? crtErrorName(error);
      throw await connectFailure(target, error, errorName !== undefined ? { errorName } : {}, close);
    }
    return {
      identity: () => (identity ??= iotidentity.IotIdentityClientv2.newFromMqtt311(connection, rrOptions)),
      shadow: () => (shadow ??= iotshadow.IotShadowClientv2.newFromMqtt311(connection, rrOptions)),
      async publishQos1(topic, payload) {
        // MQTT 3.1.1 has no PUBACK codes: AWS IoT answers a publish it refuses by closing the connection.
        const acknowledged = connection.publish(topic, payload, mqtt.QoS.AtLeastOnce).then(() => undefined);
        await withTimeout(acknowledged, options.operationTimeoutMs, () => new MqttRequestFailed(`no PUBACK for ${topic} within ${options.operationTimeoutMs} ms`)).catch(
          (error: unknown) => {
            throw error instanceof MqttRequestFailed ? error : new MqttRequestFailed(`publish to ${topic}: ${describeError(error)}`, { cause: error });
          },
        );
      },
      close,
    };
  };
}

function connect5Factory(options: CrtTransportOptions, rrOptions: RrOptions) {
  const configs = new ConfigCache<mqtt5.Mqtt5ClientConfig>(8);
  const base = (credentials: MqttCredentials): mqtt5.Mqtt5ClientConfig =>
    configs.get(credentials, () => {
      const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
        'placeholder',
        credentials.certificatePem,
        credentials.privateKeyPem,
      )
        .withConnectProperties({ keepAliveIntervalSeconds: options.keepAliveSeconds ?? 60 })
        .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
        .withConnackTimeoutMs(options.connectTimeoutMs)
        .withAckTimeoutSeconds(Math.ceil(options.operationTimeoutMs / 1000));
      if (options.caPem !== undefined) builder.withCertificateAuthority(options.caPem);
      const config = builder.build();
      if (options.clientBootstrap !== undefined) config.clientBootstrap = options.clientBootstrap;
      config.socketOptions = socketOptions(options);
      return config;
    });

  return async (target: MqttTarget, clientId: string, credentials: MqttCredentials): Promise<Connection> => {
    const shared = base(credentials);
    const config: mqtt5.Mqtt5ClientConfig = {
      ...shared,
      hostName: target.host,
      port: target.port,
      connectProperties: { keepAliveIntervalSeconds: options.keepAliveSeconds ?? 60, ...shared.connectProperties, clientId },
    };
    const client = new mqtt5.Mqtt5Client(config);
    let identity: iotidentity.IotIdentityClientv2 | undefined;
    let shadow: iotshadow.IotShadowClientv2 | undefined;
    const stopped = new Promise<void>((resolve) => client.once('stopped', () => resolve()));
    const close = async (): Promise<void> => {
      identity?.close();
      shadow?.close();
      client.stop();
      try {
        await withTimeout(stopped, options.operationTimeoutMs, () => new MqttRequestFailed('stop timed out'));
      } finally {
        // Frees the native client even when it did not confirm the stop in time.
        client.close();
      }
    };
    // As for MQTT 3.1.1: failures reach the caller through the connect outcome and the requests.
    client.on('error', () => undefined);
    // The MQTT 5 client retries on its own; the first outcome decides, and on failure it is stopped.
    let failure: ConnectFailure = {};
    const outcome = new Promise<void>((resolve, reject) => {
      client.once('connectionSuccess', () => resolve());
      client.once('connectionFailure', (event) => {
        const code = event.connack?.reasonCode;
        const errorName = event.error.error_name;
        failure = { ...(code !== undefined ? { reasonCode: code } : {}), ...(errorName !== undefined ? { errorName } : {}) };
        reject(new Error(code === undefined ? (event.error instanceof Error ? event.error.message : (errorName ?? 'connection failed')) : `CONNACK reason code ${code}`));
      });
    });
    client.start();
    try {
      await withTimeout(outcome, options.connectTimeoutMs + 1000, () => new Error(`no CONNACK within ${options.connectTimeoutMs} ms`));
    } catch (error) {
      throw await connectFailure(target, error, failure, close);
    }
    return {
      identity: () => (identity ??= iotidentity.IotIdentityClientv2.newFromMqtt5(client, rrOptions)),
      shadow: () => (shadow ??= iotshadow.IotShadowClientv2.newFromMqtt5(client, rrOptions)),
      async publishQos1(topic, payload) {
        let result: mqtt5.PublishCompletionResult;
        try {
          result = await withTimeout(client.publish({ topicName: topic, qos: mqtt5.QoS.AtLeastOnce, payload }), options.operationTimeoutMs, () => new MqttRequestFailed(`no PUBACK for ${topic} within ${options.operationTimeoutMs} ms`));
        } catch (error) {
          throw error instanceof MqttRequestFailed ? error : new MqttRequestFailed(`publish to ${topic}: ${describeError(error)}`, { cause: error });
        }
        const code = result?.reasonCode;
        if (code !== undefined && code >= MQTT5_PUBACK_FAILURE) throw new MqttRequestFailed(`publish to ${topic}: PUBACK reason code ${code}`);
      },
      close,
    };
  };
}

/** One request of a service client, within the operation time-out, its answer validated. */
async function serviceRequest<T>(options: CrtTransportOptions, operation: string, run: () => Promise<unknown>, schema: z.ZodType<T>): Promise<T> {
  let answer: unknown;
  try {
    answer = await withTimeout(run(), options.operationTimeoutMs + 1000, () => new MqttRequestFailed(`${operation}: no answer within ${options.operationTimeoutMs} ms`));
  } catch (error) {
    if (error instanceof MqttRequestFailed) throw error;
    throw translateServiceError(operation, error);
  }
  return validated(schema, answer, operation);
}

function identitySession(connection: Connection, options: CrtTransportOptions): IdentitySession {
  return {
    async createCertificateFromCsr(csrPem) {
      return serviceRequest(options, 'CreateCertificateFromCsr', () => connection.identity().createCertificateFromCsr({ certificateSigningRequest: csrPem }), createdCertificateSchema);
    },
    async createKeysAndCertificate() {
      const created = await serviceRequest(options, 'CreateKeysAndCertificate', () => connection.identity().createKeysAndCertificate({}), createdKeysSchema);
      const { privateKey, ...rest } = created;
      return { ...rest, privateKeyPem: privateKey };
    },
    async registerThing(templateName, certificateOwnershipToken, parameters) {
      const registered = await serviceRequest(
        options,
        'RegisterThing',
        () => connection.identity().registerThing({ templateName, certificateOwnershipToken, parameters }),
        registeredSchema,
      );
      return {
        ...(registered.thingName !== undefined ? { thingName: registered.thingName } : {}),
        deviceConfiguration: registered.deviceConfiguration ?? {},
      };
    },
    close: () => connection.close(),
  };
}

/** The SDK's "subscription established" status (aws-crt's SubscriptionStatusEventType, which the SDK does not re-export). */
const SUBSCRIPTION_ESTABLISHED = 0;

function shadowSession(connection: Connection, options: CrtTransportOptions, streams: { close(): void }[]): Omit<DeviceSession, keyof IdentitySession> {
  return {
    async getShadow(thingName) {
      let answer: z.infer<typeof shadowGetSchema>;
      try {
        answer = await serviceRequest(options, 'GetThingShadow', () => connection.shadow().getShadow({ thingName }), shadowGetSchema);
      } catch (error) {
        // No shadow yet is an empty one: nothing is asked of the device.
        if (error instanceof AwsRejected && error.statusCode === 404) return { desired: {}, reported: {} };
        throw error;
      }
      return { desired: answer.state?.desired ?? {}, reported: answer.state?.reported ?? {} };
    },
    async updateReported(thingName, reported) {
      await serviceRequest(options, 'UpdateThingShadow', () => connection.shadow().updateShadow({ thingName, state: { reported } }), z.unknown());
    },
    async onDelta(thingName, listener) {
      const stream = connection.shadow().createShadowDeltaUpdatedStream({ thingName });
      streams.push(stream);
      const established = new Promise<void>((resolve, reject) => {
        stream.on('subscriptionStatus', (event) => {
          if (event.type === SUBSCRIPTION_ESTABLISHED) resolve();
          else reject(new MqttRequestFailed(`the delta subscription failed: ${event.error?.toString() ?? 'lost'}`));
        });
      });
      stream.on('incomingPublish', (event) => {
        const state = jsonObject.safeParse(event.message.state);
        if (state.success) listener(state.data);
      });
      stream.open();
      await withTimeout(established, options.operationTimeoutMs, () => new MqttRequestFailed(`no delta subscription within ${options.operationTimeoutMs} ms`));
    },
  };
}

/** The transport on aws-crt, the way a real device talks to AWS IoT. */
export function createCrtTransport(options: CrtTransportOptions): MqttTransport {
  const rrOptions = {
    // Accepted and rejected topics of create-certificate and of RegisterThing: room for both
    // pairs, so RegisterThing need not wait for the first pair to be unsubscribed.
    maxRequestResponseSubscriptions: 4,
    maxStreamingSubscriptions: 1,
    operationTimeoutInSeconds: Math.max(1, Math.ceil(options.operationTimeoutMs / 1000)),
  };
  const open = options.protocol === 'mqtt5' ? connect5Factory(options, rrOptions) : connect311Factory(options, rrOptions);

  return {
    async openIdentitySession(target, clientId, credentials) {
      return identitySession(await open(target, clientId, credentials), options);
    },
    async openDeviceSession(target, clientId, credentials) {
      const connection = await open(target, clientId, credentials);
      const streams: { close(): void }[] = [];
      return {
        ...identitySession(connection, options),
        ...shadowSession(connection, options, streams),
        close: async () => {
          // A delta stream left open keeps the native client, and so the process, alive.
          for (const stream of streams.splice(0)) stream.close();
          await connection.close();
        },
      };
    },
    async checkConnection(target, clientId, credentials) {
      const connection = await open(target, clientId, credentials);
      await connection.close();
    },
    async publishAcknowledged(target, clientId, credentials, topic, payload) {
      const connection = await open(target, clientId, credentials);
      try {
        await connection.publishQos1(topic, payload);
      } finally {
        // Either the publish failed, and its error is the one to report, or AWS IoT acknowledged
        // it, and a failed disconnect changes nothing the device needs.
        await connection.close().catch(() => undefined);
      }
    },
  };
}
