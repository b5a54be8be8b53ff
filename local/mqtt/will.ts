import type { ClientConnection } from './connection.js';
import type { BrokerContext } from './context.js';
import { publishRefusal } from './authorization.js';
import { publishFromClient } from './publish.js';

/**
 * Publishes the will of a connection that ended without saying goodbye. It is the client's
 * message, published on its behalf, so it gets every check an ordinary PUBLISH gets (asked
 * again now: a policy may have changed since CONNECT) and goes the same way: a will on a fleet
 * provisioning answer topic reaches nobody. A refused will is dropped; there is no one left to
 * disconnect.
 */
export function publishWill<P>(ctx: BrokerContext<P>, connection: ClientConnection<P>): void {
  const will = connection.will;
  if (!will) return;
  connection.will = undefined;
  const refusal = publishRefusal(ctx, connection.principal, connection.clientId, will.topic, will.retain);
  if (refusal) {
    ctx.log.info('will not published', { clientId: connection.clientId, reason: refusal });
    return;
  }
  publishFromClient(ctx, connection, will);
}
