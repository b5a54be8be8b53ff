import type { TLSSocket } from 'node:tls';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describeError } from '@global-iot/core/errors.js';
import type { DisconnectReason } from './api.js';
import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { suspendSession } from './delivery.js';
import { SERVER_DISCONNECT_CODES } from './reason-codes.js';
import { publishWill } from './will.js';

/** A client that never reads would otherwise keep a socket half-open. */
const SOCKET_LINGER_MS = 1_000;

/**
 * Ends a connection once, whoever ends it: tells an MQTT 5 client why when the server ends it,
 * publishes the will unless the client said goodbye, and reports the disconnection.
 */
export function endConnection<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, reason: DisconnectReason, serverInitiated: boolean): void {
  if (!connection.markClosed()) return;
  const session = connection.session;
  if (session.connection === connection) {
    session.connection = undefined;
    if (session.expirySeconds > 0) suspendSession(ctx, session);
    else ctx.sessions.remove(session);
  }
  if (serverInitiated && connection.protocolVersion === 5) {
    connection.send({ cmd: 'disconnect', reasonCode: SERVER_DISCONNECT_CODES[reason] });
  }
  if (reason !== 'CLIENT_INITIATED_DISCONNECT') publishWill(ctx, connection);
  connection.socket.end();
  setTimeout(() => connection.socket.destroy(), SOCKET_LINGER_MS).unref();
  try {
    ctx.hooks.onDisconnected?.(connection, reason);
  } catch (error) {
    ctx.log.error('disconnect hook failed', { error: describeError(error) });
  }
}

/** Answers a CONNECT with a refusal and closes the socket. */
export function refuseConnect(socket: TLSSocket, version: 4 | 5, v4Code: number, v5Code: number): void {
  const packet: Packet =
    version === 5 ? { cmd: 'connack', sessionPresent: false, reasonCode: v5Code } : { cmd: 'connack', sessionPresent: false, returnCode: v4Code };
  socket.end(mqttPacket.generate(packet, { protocolVersion: version }));
  setTimeout(() => socket.destroy(), SOCKET_LINGER_MS).unref();
}
