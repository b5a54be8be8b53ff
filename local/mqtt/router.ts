import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';

/**
 * Routes a message to every session subscribed to its topic whose client may receive it
 * (iot:Receive is checked at each delivery, as AWS does), keeping it first if retained.
 * `from` is the publishing connection, for MQTT 5's no-local subscriptions.
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
    if (!connection?.isOpen()) continue;
    const subQos = session.subscriptions.matchingQos(topic, connection === from);
    if (subQos === undefined || !ctx.hooks.canReceive(connection.principal, session.clientId, topic)) continue;
    connection.sendPublish(topic, payload, subQos < qos ? subQos : qos);
    delivered++;
  }
  return delivered;
}
