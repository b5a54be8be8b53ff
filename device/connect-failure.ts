import type { ConnectFailureKind } from './errors.js';

/**
 * What a failed CONNECT looked like to the CRT client, read into one of the kinds the flow acts
 * on: a throttled or ended connection is tried again at the same endpoint after a back-off; an
 * unreachable endpoint or a refusal sends the device to its next region.
 */

/** MQTT 5 CONNACK reason codes that mean "come back later" (MQTT 5.0, section 3.2.2.2). */
const THROTTLING_REASON_CODES: ReadonlySet<number> = new Set([
  0x89, // Server busy
  0x97, // Quota exceeded
  0x9f, // Connection rate exceeded
]);

/**
 * CRT errors of a server that answered and then ended the connection. The CRT reports an MQTT
 * 3.1.1 CONNACK refusal as a protocol error, whatever its return code.
 */
const ENDED_ERRORS: ReadonlySet<string> = new Set(['AWS_ERROR_MQTT_PROTOCOL_ERROR', 'AWS_ERROR_MQTT_UNEXPECTED_HANGUP', 'AWS_IO_SOCKET_CLOSED']);

export interface ConnectFailure {
  /** The MQTT 5 CONNACK reason code, when a CONNACK came. */
  readonly reasonCode?: number;
  /** The CRT's error name (`AWS_IO_SOCKET_CLOSED`, ...), when it gave one. */
  readonly errorName?: string;
}

export function classifyConnectFailure(failure: ConnectFailure): ConnectFailureKind {
  if (failure.reasonCode !== undefined) return THROTTLING_REASON_CODES.has(failure.reasonCode) ? 'throttled' : 'refused';
  if (failure.errorName !== undefined && ENDED_ERRORS.has(failure.errorName)) return 'ended';
  return 'unreachable';
}

/** The CRT error name in a rejection, which its MQTT 3.1.1 client gives only as text. */
export function crtErrorName(error: unknown): string | undefined {
  const named = (error as { error_name?: unknown } | undefined)?.error_name;
  if (typeof named === 'string') return named;
  return /\bAWS_[A-Z0-9_]+\b/.exec(error instanceof Error ? error.message : String(error))?.[0];
}
