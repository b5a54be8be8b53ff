import type { Packet } from 'mqtt-packet';
import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { ProtocolViolation } from './errors.js';
import { acknowledge } from './delivery.js';
import { endConnection } from './lifecycle.js';
import { onPublish } from './publish.js';
import { V5 } from './reason-codes.js';
import { onSubscribe, onUnsubscribe } from './subscribe.js';

/** MQTT 5's DISCONNECT reason "disconnect with will message": the client asks for its will. */
const DISCONNECT_WITH_WILL = 0x04;

/**
 * MQTT 5: a DISCONNECT may change how long the session outlives the connection, but not give one
 * that was to end with its connection a life after it.
 */
function setExpiryOnDisconnect<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, requested: number | undefined): void {
  if (requested === undefined) return;
  const session = connection.session;
  if (session.expirySeconds === 0 && requested > 0) {
    throw new ProtocolViolation('a session expiry interval on DISCONNECT after none on CONNECT', 'CLIENT_ERROR', V5.protocolError);
  }
  session.expirySeconds = Math.min(requested, ctx.settings.maxSessionExpirySeconds);
}

/** Every packet after CONNECT goes to its handler here; anything out of place ends the connection. */
export function handlePacket<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, packet: Packet): void {
  switch (packet.cmd) {
    case 'publish':
      return onPublish(ctx, connection, packet);
    case 'subscribe':
      return onSubscribe(ctx, connection, packet);
    case 'unsubscribe':
      return onUnsubscribe(connection, packet);
    case 'pingreq':
      return connection.send({ cmd: 'pingresp' });
    case 'puback':
      if (packet.messageId !== undefined) acknowledge(ctx, connection.session, packet.messageId);
      return;
    case 'disconnect':
      if (connection.protocolVersion === 5) setExpiryOnDisconnect(ctx, connection, packet.properties?.sessionExpiryInterval);
      if (connection.protocolVersion === 5 && packet.reasonCode === DISCONNECT_WITH_WILL) {
        endConnection(ctx, connection, 'CONNECTION_LOST', false);
        return;
      }
      connection.will = undefined;
      return endConnection(ctx, connection, 'CLIENT_INITIATED_DISCONNECT', false);
    case 'connect':
      throw new ProtocolViolation('second CONNECT on one connection', 'CLIENT_ERROR', V5.protocolError);
    default:
      throw new ProtocolViolation(`unexpected ${packet.cmd} packet`, 'CLIENT_ERROR', V5.protocolError);
  }
}
