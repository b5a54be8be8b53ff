/** The broker's limits: every one is AWS IoT's documented figure by default, and can be changed. */
export interface BrokerSettings {
  /** AWS IoT: 128 KiB of payload. */
  maxPayloadBytes: number;
  /** Time a new connection has to send CONNECT. */
  connectTimeoutMs: number;
  /** AWS IoT clamps keep-alive to 30..1200 s; 0 is taken as the maximum. */
  minKeepAliveSeconds: number;
  maxKeepAliveSeconds: number;
  /** AWS IoT: client ids are at most 128 bytes. */
  maxClientIdBytes: number;
  /** Accept MQTT 5 clients as well as MQTT 3.1.1. */
  mqtt5: boolean;
  /** AWS IoT's quota: CONNECT requests per second per client id; 0 is no limit (the default). */
  maxConnectsPerSecondPerClientId: number;
}

export const DEFAULT_BROKER_SETTINGS: BrokerSettings = {
  maxPayloadBytes: 128 * 1024,
  connectTimeoutMs: 10_000,
  minKeepAliveSeconds: 30,
  maxKeepAliveSeconds: 1200,
  maxClientIdBytes: 128,
  mqtt5: true,
  maxConnectsPerSecondPerClientId: 0,
};

/** Room for the fixed header, topic (256 bytes), properties and packet id around the payload. */
export function maxFrameBytesOf(settings: BrokerSettings): number {
  return settings.maxPayloadBytes + 8 * 1024;
}
