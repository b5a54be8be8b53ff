import { InvalidBootstrapAnswer } from './errors.js';
import type { MqttTarget } from './mqtt.js';

/** AWS IoT's MQTT port over mutual TLS. */
export const DEFAULT_MQTT_PORT = 8883;

/** `host` or `host:port` from an answer, with the default port. */
export function parseEndpoint(endpointAddress: string, region: string, defaultPort: number): MqttTarget {
  const match = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(endpointAddress);
  const host = match?.[1];
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (host === undefined || port < 1 || port > 65_535) throw new InvalidBootstrapAnswer(`endpoint ${endpointAddress} is not host[:port]`);
  return { region, host, port };
}

/** Where a stored state says the device lives. */
export function storedTarget(state: { readonly region: string; readonly endpoint: string; readonly port: number }): MqttTarget {
  return { region: state.region, host: state.endpoint, port: state.port };
}
