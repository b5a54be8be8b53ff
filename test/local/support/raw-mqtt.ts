import { connect as tlsConnect } from 'node:tls';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { type ClientIdentity, type TestCloud, within } from './cloud.js';

/**
 * An MQTT client made of a TLS socket and mqtt-packet, for what mqtt.js decides on its own:
 * when (and whether) to acknowledge, and the exact order packets arrive in.
 */
export interface RawClient {
  /** Every packet received, in order. */
  readonly packets: Packet[];
  send(packet: Packet): void;
  /** Resolves with the first packet (already received or still to come) that matches. */
  next(match: (packet: Packet) => boolean, what: string, ms?: number): Promise<Packet>;
  destroy(): void;
}

export async function rawConnect(test: TestCloud, identity: ClientIdentity, connect: Omit<IConnectPacket, 'cmd' | 'protocolId'>, region?: string): Promise<RawClient> {
  const endpoint = region ? test.cloud.region(region).endpoint : test.cloud.regions[0];
  if (!endpoint) throw new Error('no region');
  const version = connect.protocolVersion === 5 ? 5 : 4;
  const socket = tlsConnect({ host: endpoint.address, port: endpoint.port, servername: endpoint.host, ca: test.rootCa, cert: identity.cert, key: identity.key });
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Packet[] = [];
  const waiters = new Set<() => void>();
  parser.on('packet', (packet: Packet) => {
    packets.push(packet);
    for (const wake of waiters) wake();
  });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  socket.on('error', () => undefined);
  const client: RawClient = {
    packets,
    send: (packet) => socket.write(mqttPacket.generate(packet, { protocolVersion: version })),
    next: (match, what, ms = 8_000) =>
      within(
        new Promise<Packet>((resolve) => {
          const check = () => {
            const found = packets.find(match);
            if (!found) return;
            waiters.delete(check);
            resolve(found);
          };
          waiters.add(check);
          check();
        }),
        ms,
        what,
      ),
    destroy: () => socket.destroy(),
  };
  await within(new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  }), 8_000, 'the TLS handshake');
  client.send({ cmd: 'connect', protocolId: 'MQTT', ...connect });
  await client.next((p) => p.cmd === 'connack', 'CONNACK');
  return client;
}
