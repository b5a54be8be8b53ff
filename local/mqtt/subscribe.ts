import type { ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import { mayReceive, maySubscribe } from './authorization.js';
import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { deliverLive } from './delivery.js';
import { ProtocolViolation } from './errors.js';
import { V5 } from './reason-codes.js';
import { isValidTopicFilter } from './topics.js';

/** The SUBACK code of a refused subscription: not authorized, or an invalid filter. */
function refusalCode(version: 4 | 5, validFilter: boolean): number {
  if (version === 4) return 0x80;
  return validFilter ? V5.notAuthorized : V5.topicFilterInvalid;
}

/**
 * A SUBSCRIBE: each filter granted (QoS 2 as QoS 1, AWS IoT has no QoS 2) or refused on its own,
 * then the retained messages of the granted filters. A refusal leaves the connection open.
 */
export function onSubscribe<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>, packet: ISubscribePacket): void {
  const { subscriptions } = connection.session;
  const granted: number[] = [];
  const accepted: string[] = [];
  for (const sub of packet.subscriptions) {
    const validFilter = isValidTopicFilter(sub.topic);
    if (!validFilter || !maySubscribe(ctx, connection, sub.topic)) {
      ctx.log.info('subscription refused', { clientId: connection.clientId, filter: sub.topic });
      granted.push(refusalCode(connection.protocolVersion, validFilter));
      continue;
    }
    const qos = sub.qos >= 1 ? 1 : 0;
    subscriptions.set(sub.topic, { qos, noLocal: sub.nl ?? false });
    accepted.push(sub.topic);
    granted.push(qos);
  }
  if (packet.messageId === undefined) throw new ProtocolViolation('SUBSCRIBE without a packet id', 'CLIENT_ERROR', V5.malformed);
  connection.send({ cmd: 'suback', messageId: packet.messageId, granted });
  for (const filter of accepted) {
    const subQos = subscriptions.get(filter)?.qos ?? 0;
    for (const message of ctx.retained.matching(filter)) {
      if (!mayReceive(ctx, connection, message.topic)) continue;
      deliverLive(ctx, connection, { topic: message.topic, payload: message.payload, retain: true }, subQos < message.qos ? subQos : message.qos);
    }
  }
}

export function onUnsubscribe<P>(connection: ClientConnection<P>, packet: IUnsubscribePacket): void {
  const { subscriptions } = connection.session;
  const codes = packet.unsubscriptions.map((filter) => (subscriptions.delete(filter) ? V5.success : V5.noSubscriptionExisted));
  if (packet.messageId === undefined) throw new ProtocolViolation('UNSUBSCRIBE without a packet id', 'CLIENT_ERROR', V5.malformed);
  connection.send(
    connection.protocolVersion === 5
      ? { cmd: 'unsuback', messageId: packet.messageId, granted: codes }
      : { cmd: 'unsuback', messageId: packet.messageId, granted: [] },
  );
}
