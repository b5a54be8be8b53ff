import { constants as cryptoConstants } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { describeError } from '@global-iot/core/errors.js';
import type { Logger } from '../log.js';
import { KeyedRateLimiter, TokenBucket } from '../rate-limiter.js';
import type { BrokerHooks, MqttBroker } from './api.js';
import type { ConnectionOwner } from './connection.js';
import type { BrokerContext } from './context.js';
import { endConnection } from './lifecycle.js';
import { RetainedStore } from './retained-store.js';
import { route } from './router.js';
import { serveSocket } from './socket.js';
import { SessionStore } from './session-store.js';
import { deliverLive } from './delivery.js';
import { type BrokerSettings, maxFrameBytesOf, resolveBrokerSettings } from './settings.js';

export type { BrokerConnection, BrokerHooks, ConnectRequest, DisconnectReason, MqttBroker, PeerIdentity } from './api.js';
export { type BrokerSettings, DEFAULT_BROKER_SETTINGS, InvalidBrokerSettings } from './settings.js';

/**
 * A small MQTT broker with AWS IoT's semantics, written for the local cloud rather than bent out
 * of a general broker: every connection is authenticated by its TLS client certificate and
 * authorized per action by the caller's policy; a refused subscription gets the failure return
 * code; an unauthorized publish closes the connection; a second connection with the same client
 * id takes over; the broker itself can answer a publish on the requesting connection only.
 * MQTT 3.1.1 and MQTT 5 (QoS 0 and 1; AWS IoT has no QoS 2).
 *
 * This module puts the parts together: sockets and framing (`socket.ts`, `frame-reader.ts`),
 * CONNECT (`connect.ts`), packets (`dispatch.ts`, `publish.ts`, `subscribe.ts`), the publish
 * rules a PUBLISH and a will share (`authorization.ts`, `will.ts`), sessions (`session.ts`,
 * `session-store.ts`) and what a persistent one keeps (`delivery.ts`), routing (`router.ts`),
 * retained messages (`retained-store.ts`), keep-alive (`keep-alive.ts`) and the end of a
 * connection (`lifecycle.ts`). Limits are in `settings.ts`.
 */

/**
 * Creates the broker on a TLS server. `tls` must carry the server key and certificate and the
 * CAs whose client certificates chain; client certificates are requested and the decision is
 * the hooks': AWS also accepts certificates registered without a CA.
 */
export function createMqttBroker<P>(options: {
  tls: TlsOptions;
  hooks: BrokerHooks<P>;
  settings?: Partial<BrokerSettings>;
  log: Logger;
  now?: () => number;
}): MqttBroker<P> {
  const settings = resolveBrokerSettings(options.settings);
  const now = options.now ?? Date.now;
  const owner: ConnectionOwner<P> = {
    canReceive: (connection, topic) => options.hooks.canReceive(connection.principal, connection.clientId, topic),
    publishTo: (connection, topic, payload, qos) => deliverLive(ctx, connection, { topic, payload, retain: false }, qos),
    end: (connection, reason, serverInitiated) => endConnection(ctx, connection, reason, serverInitiated),
  };
  const ctx: BrokerContext<P> = {
    settings,
    maxFrameBytes: maxFrameBytesOf(settings),
    hooks: options.hooks,
    log: options.log,
    now,
    sessions: new SessionStore<P>(),
    retained: new RetainedStore(),
    connectLimiter: settings.maxConnectsPerSecondPerClientId > 0 ? new KeyedRateLimiter(settings.maxConnectsPerSecondPerClientId, now) : undefined,
    queueLimiter: new TokenBucket(settings.queuedMessagesPerSecond, now),
    owner,
  };
  const sockets = new Set<TLSSocket>();

  const server = createServer(
    {
      ...options.tls,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      // No session tickets: AWS IoT documents no TLS session resumption, so every connection
      // proves its certificate afresh. Sealing two TLS 1.3 tickets per connection (with the
      // client's certificate in them) also cost more than the rest of the handshake here.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    },
    (socket) => {
      sockets.add(socket);
      serveSocket(ctx, socket, () => sockets.delete(socket));
    },
  );
  server.on('tlsClientError', (error) => ctx.log.debug('TLS handshake failed', { error: describeError(error) }));

  return {
    server,
    listen: (port, host) =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    publish: (topic, payload, publishOptions = {}) => route(ctx, topic, payload, publishOptions.qos ?? 0, publishOptions.retain ?? false, undefined),
    connections: () => ctx.sessions.connections(),
    disconnectWhere(predicate, reason) {
      let count = 0;
      for (const connection of ctx.sessions.connections()) {
        if (predicate(connection)) {
          endConnection(ctx, connection, reason, true);
          count++;
        }
      }
      return count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of ctx.sessions.connections()) endConnection(ctx, connection, 'SERVER_INITIATED_DISCONNECT', true);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
