import { createServer } from 'node:net';
import { type HostMode, MQTT_TLS_PORT } from './cloud.js';

/**
 * `npm run cloud`'s default host mode. `loopback-addresses` gives every region an endpoint a
 * device reaches from the bootstrap's answer alone (its own loopback address, AWS's port 8883),
 * but it needs those addresses and that port: Linux routes all of 127.0.0.0/8 to loopback, macOS
 * only 127.0.0.1 unless aliases are added, and another program (a second local cloud, an MQTT
 * broker) may hold 8883. Where any of them cannot be bound, `localhost` (free ports) still works.
 */

/** Whether this process can listen on `address:port` now. */
export function canListen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `loopback-addresses` when every region's address and port can be bound, else `localhost`. */
export async function automaticHostMode(regionCount: number, port: number = MQTT_TLS_PORT): Promise<HostMode> {
  for (let index = 0; index < regionCount; index += 1) {
    if (!(await canListen(`127.0.0.${index + 2}`, port))) return 'localhost';
  }
  return 'loopback-addresses';
}
