import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { deliverLive, enqueue } from './delivery.js';

/**
 * Routes a message to every session subscribed to its topic, keeping it first if retained. A
 * connected client gets it if it may receive it (iot:Receive is checked at each delivery, as AWS
 * does); an offline persistent session keeps it when both the message and the subscription are
 * QoS 1, as AWS IoT does. `from` is the publishing connection, for MQTT 5's no-local
 * subscriptions.
 */
export function route<P>(
  ctx: BrokerContext<P>,
  topic: string,
  payload: Buffer,
  qos: 0 | 1,
  retain: boolean,
  from: ClientConnection<P> | undefined,
): number {
  if (retain) ctx.retained.keep(topic, payload, qos);
  let delivered = 0;
  for (const session of ctx.sessions.values()) {
    const connection = session.connection;
    if (connection ? !connection.isOpen() : !session.stored) continue;
    const subQos = session.subscriptions.matchingQos(topic, connection !== undefined && connection === from);
    if (subQos === undefined) continue;
    const deliveryQos = subQos < qos ? subQos : qos;
    if (!connection) {
      if (deliveryQos === 1) enqueue(ctx, session, { topic, payload, retain: false });
      continue;
    }
    if (!ctx.hooks.canReceive(connection.principal, session.clientId, topic)) continue;
    deliverLive(ctx, connection, { topic, payload, retain: false }, deliveryQos);
    delivered++;
  }
  return delivered;
}
