import type { DisconnectReason } from './api.js';

/** What AWS IoT advertises to MQTT 5 clients. */
export const MQTT5_TOPIC_ALIAS_MAXIMUM = 8;
export const MQTT5_RECEIVE_MAXIMUM = 100;

/** CONNACK return codes of MQTT 3.1.1. */
export const V4 = { unacceptableProtocol: 1, identifierRejected: 2, serverUnavailable: 3, notAuthorized: 5 } as const;

/** Reason codes of MQTT 5 (CONNACK, PUBACK, SUBACK, UNSUBACK, DISCONNECT). */
export const V5 = {
  success: 0x00,
  noSubscriptionExisted: 0x11,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  unsupportedProtocol: 0x84,
  clientIdNotValid: 0x85,
  notAuthorized: 0x87,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetTooLarge: 0x95,
  topicAliasInvalid: 0x94,
  qosNotSupported: 0x9b,
  administrativeAction: 0x98,
  connectionRateExceeded: 0x9f,
} as const;

/** The DISCONNECT an MQTT 5 client gets when the server ends its connection. */
export const SERVER_DISCONNECT_CODES: Readonly<Record<DisconnectReason, number>> = {
  CLIENT_INITIATED_DISCONNECT: V5.success,
  DUPLICATE_CLIENTID: V5.sessionTakenOver,
  MQTT_KEEP_ALIVE_TIMEOUT: V5.keepAliveTimeout,
  CONNECTION_LOST: V5.unspecified,
  AUTH_ERROR: V5.notAuthorized,
  CLIENT_ERROR: V5.protocolError,
  SERVER_INITIATED_DISCONNECT: V5.administrativeAction,
  SERVER_ERROR: V5.unspecified,
};
