import * as z from 'zod';
import { InvalidInput } from '@global-iot/core/errors.js';

/**
 * The broker's limits: AWS IoT's documented figures by default (see local/README.md, Settings),
 * each a named setting that can be changed and is checked at start.
 */
const brokerSettingsSchema = z
  .strictObject({
    /** AWS IoT: 128 KiB of payload. */
    maxPayloadBytes: z.int().positive().default(128 * 1024),
    /** Time a new connection has to send CONNECT. */
    connectTimeoutMs: z.int().positive().default(10_000),
    /** AWS IoT clamps keep-alive to 30..1200 s; 0 is taken as the maximum. */
    minKeepAliveSeconds: z.int().positive().default(30),
    maxKeepAliveSeconds: z.int().positive().default(1200),
    /** AWS IoT: client ids are at most 128 bytes. */
    maxClientIdBytes: z.int().positive().default(128),
    /** Accept MQTT 5 clients as well as MQTT 3.1.1. */
    mqtt5: z.boolean().default(true),
    /** AWS IoT's quota: CONNECT requests per second per client id; 0 is no limit (the default). */
    maxConnectsPerSecondPerClientId: z.number().nonnegative().default(0),
    /**
     * AWS IoT: a persistent session outlives its connection by one hour (an adjustable quota).
     * An MQTT 5 client may ask for less; more is cut to this.
     */
    // At most what one Node timer can wait (about 24 days).
    maxSessionExpirySeconds: z.int().positive().max(2_147_483).default(3600),
    /** AWS IoT: at most 100 QoS 1 messages a client has not acknowledged; more wait their turn. */
    maxInflightMessages: z.int().positive().default(100),
    /** AWS IoT: a resumed session gets its stored messages at most 10 a second. */
    storedMessagesPerSecond: z.number().positive().default(10),
    /** AWS IoT's quota of messages queued for offline sessions a second (per region here); more are dropped. */
    queuedMessagesPerSecond: z.number().positive().default(500),
    /** The emulator's bound on one offline session's queue (AWS documents none); more are dropped. */
    maxQueuedMessagesPerSession: z.int().positive().default(1_000),
  })
  .refine((s) => s.minKeepAliveSeconds <= s.maxKeepAliveSeconds, { message: 'must not be over maxKeepAliveSeconds', path: ['minKeepAliveSeconds'] });

export type BrokerSettings = z.infer<typeof brokerSettingsSchema>;

export const DEFAULT_BROKER_SETTINGS: BrokerSettings = brokerSettingsSchema.parse({});

export class InvalidBrokerSettings extends InvalidInput {
  override name = 'InvalidBrokerSettings';
}

/** The defaults with `settings` over them, checked; the error names the setting. */
export function resolveBrokerSettings(settings: Partial<BrokerSettings> = {}): BrokerSettings {
  const parsed = brokerSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidBrokerSettings(`brokerSettings.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Room for the fixed header, topic (256 bytes), properties and packet id around the payload. */
export function maxFrameBytesOf(settings: BrokerSettings): number {
  return settings.maxPayloadBytes + 8 * 1024;
}
