import type { AddressInfo } from 'node:net';
import { describeError } from '@global-iot/core/errors.js';
import type { Logger } from '../log.js';
import { type DelayedEndpoint, delayedEndpoint } from './endpoint-delay.js';
import { type BrokerConnection, type BrokerSettings, type ConnectRequest, createMqttBroker, type DisconnectReason, type MqttBroker } from '../mqtt/broker.js';
import { certificateIdOf } from '../pki.js';
import type { FleetProvisioning, IotPrincipal } from './fleet-provisioning.js';
import { type ConnectAttribute, type IotAction, isAllowed, type PolicyContext, resourceArn } from './policy.js';
import type { RegionState } from './region-state.js';
import type { ShadowService } from './shadow.js';
import { type CompiledRule, isBasicIngestFilter, type RuleContext, rulesFor } from './topic-rules.js';

/**
 * One region's device endpoint (iot:Data-ATS): the MQTT broker on mutual TLS, authenticated by
 * the region's certificate registry, authorized by the policies attached to each certificate,
 * serving fleet provisioning, raising presence events, and handing messages to the region's
 * rules (Basic Ingest included).
 */

export interface DataPlaneOptions {
  state: RegionState;
  tls: { key: string; cert: string; ca: readonly string[] };
  fleetProvisioning: FleetProvisioning;
  /** The region's Device Shadow service (local/iot/shadow.ts). */
  shadows?: ShadowService;
  /** The region's rules (local/iot/topic-rules.ts), compiled. */
  rules?: readonly CompiledRule[];
  brokerSettings?: Partial<BrokerSettings>;
  /** Each connection waits this long before its TLS handshake (loopback only; see endpoint-delay.ts). */
  handshakeDelayMs?: number;
  now: () => number;
  log: Logger;
}

export interface DataPlane {
  readonly broker: MqttBroker<IotPrincipal>;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Drops every connection of a certificate that may no longer connect. */
  certificateChanged(certificateId: string): void;
  /**
   * A message published through the IoT data plane's HTTP API (Publish): the shadow service
   * takes its own topics, the rules see it, and subscribers get it, as a client's publish.
   */
  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): void;
  close(): Promise<void>;
}

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const { state, log, now } = options;
  const versions = new Map<string, number>();

  function context(principal: IotPrincipal, clientId: string): PolicyContext {
    const attached = state.thingsOfCertificate(principal.certificateId).has(clientId);
    const thing = attached ? state.getThing(clientId) : undefined;
    return {
      region: state.region,
      accountId: state.accountId,
      clientId,
      ...(thing
        ? {
            thing: {
              thingName: thing.thingName,
              ...(thing.thingTypeName !== undefined ? { thingTypeName: thing.thingTypeName } : {}),
              attributes: thing.attributes,
            },
          }
        : {}),
    };
  }

  function allowed(principal: IotPrincipal, clientId: string, action: IotAction, kind: 'client' | 'topic' | 'topicfilter', name: string): boolean {
    const ctx = context(principal, clientId);
    return isAllowed(state.policiesOf(principal.certificateId), action, resourceArn(ctx, kind, name), ctx);
  }

  function mayConnect(principal: IotPrincipal, clientId: string, request: ConnectRequest): boolean {
    const connectAttributes: ConnectAttribute[] = [];
    if (request.persistent) connectAttributes.push('PersistentConnect');
    if (request.lastWill) connectAttributes.push('LastWill');
    const ctx = { ...context(principal, clientId), connectAttributes };
    return isAllowed(state.policiesOf(principal.certificateId), 'iot:Connect', resourceArn(ctx, 'client', clientId), ctx);
  }

  /**
   * Hands a message to the rules it reaches; true when it was a Basic Ingest message, which goes
   * to its rule alone and never to a subscriber (and is dropped when no rule of that name takes it).
   */
  function runRules(topic: string, payload: Buffer, publisher: Pick<RuleContext, 'clientId' | 'principal'>): boolean {
    const target = rulesFor(options.rules ?? [], topic);
    if (target.rules.length === 0) return target.basicIngest;
    let message: unknown;
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch {
      // A rule that selects from the payload needs JSON; one that selects functions only does not.
      message = undefined;
    }
    const context: RuleContext = { ...publisher, topic: target.topic, timestamp: now() };
    for (const rule of target.rules) {
      const selected = rule.select(message, context);
      if (selected === undefined) continue;
      rule.action(selected).catch((error: unknown) => {
        log.error('topic rule action failed', { rule: rule.name, topic, error: describeError(error) });
      });
    }
    return target.basicIngest;
  }

  /** AWS publishes lifecycle events for every client id without MQTT wildcards in it. */
  function presence(connection: BrokerConnection<IotPrincipal>, eventType: 'connected' | 'disconnected', reason?: DisconnectReason): void {
    const clientId = connection.clientId;
    if (clientId.includes('#') || clientId.includes('+')) return;
    const versionNumber = eventType === 'connected' ? (versions.get(clientId) ?? -1) + 1 : (versions.get(clientId) ?? 0);
    versions.set(clientId, versionNumber);
    const event = {
      clientId,
      timestamp: now(),
      eventType,
      sessionIdentifier: connection.sessionId,
      principalIdentifier: connection.principal.certificateId,
      ipAddress: connection.remoteAddress,
      versionNumber,
      ...(eventType === 'disconnected'
        ? { clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT', disconnectReason: reason }
        : {}),
    };
    const topic = `$aws/events/presence/${eventType}/${clientId}`;
    const payload = Buffer.from(JSON.stringify(event));
    broker.publish(topic, payload, { qos: 1 });
    runRules(topic, payload, {});
  }

  const broker = createMqttBroker<IotPrincipal>({
    tls: { key: options.tls.key, cert: options.tls.cert, ca: [...options.tls.ca] },
    settings: options.brokerSettings ?? {},
    log,
    now,
    hooks: {
      authenticate(peer) {
        const certificateId = certificateIdOf(peer.certificateDer);
        const record = state.getCertificate(certificateId);
        if (!record || record.status !== 'ACTIVE') return undefined;
        if (!peer.chainVerified) {
          // Registered without a CA (multi-account registration): trusted by registration alone.
          const at = now();
          if (record.certificateMode !== 'SNI_ONLY' || at < record.notBefore || at > record.notAfter) return undefined;
        }
        return { certificateId };
      },
      canConnect: mayConnect,
      // Basic Ingest topics reach rules only: AWS refuses subscriptions to them whatever a policy says.
      canSubscribe: (p, clientId, filter) => !isBasicIngestFilter(filter) && allowed(p, clientId, 'iot:Subscribe', 'topicfilter', filter),
      canPublish: (p, clientId, topic) => allowed(p, clientId, 'iot:Publish', 'topic', topic),
      canRetain: (p, clientId, topic) => allowed(p, clientId, 'iot:RetainPublish', 'topic', topic),
      canReceive: (p, clientId, topic) => allowed(p, clientId, 'iot:Receive', 'topic', topic),
      handlePublish(connection, topic, payload) {
        if (options.fleetProvisioning.handle(connection, topic, payload)) return true;
        if (options.shadows?.handleMqtt(topic, payload)) return true;
        return runRules(topic, payload, { clientId: connection.clientId, principal: connection.principal.certificateId });
      },
      onConnected: (connection) => presence(connection, 'connected'),
      onDisconnected: (connection, reason) => presence(connection, 'disconnected', reason),
    },
  });

  const front: DelayedEndpoint | undefined =
    options.handshakeDelayMs !== undefined && options.handshakeDelayMs > 0 ? delayedEndpoint(broker.server, options.handshakeDelayMs) : undefined;

  return {
    broker,
    listen: (port, host) => (front ? front.listen(port, host) : broker.listen(port, host)),
    publish(topic, payload, qos, retain) {
      if (options.shadows?.handleMqtt(topic, payload)) return;
      if (runRules(topic, payload, {})) return;
      broker.publish(topic, payload, { qos, retain });
    },
    certificateChanged(certificateId) {
      const record = state.getCertificate(certificateId);
      if (record?.status === 'ACTIVE') return;
      const dropped = broker.disconnectWhere((c) => c.principal.certificateId === certificateId, 'AUTH_ERROR');
      if (dropped > 0) log.info('disconnected clients of a certificate that is no longer active', { certificateId, dropped });
    },
    close: async () => {
      await front?.close();
      await broker.close();
    },
  };
}
