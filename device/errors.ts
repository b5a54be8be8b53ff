import { ConfigError, ProvisioningError } from '@global-iot/core/errors.js';

/**
 * What can go wrong on the device. Each class names one cause the device can act on or report;
 * the flow wraps them in `StepFailed` so every failure also names the step it happened in.
 */
export class DeviceError extends ProvisioningError {
  override name = 'DeviceError';
}

/** A flag, config file or stored file the device was given is missing or invalid. */
export class DeviceConfigError extends ConfigError {
  override name = 'DeviceConfigError';
}

/** The bootstrap answered with a 4xx other than 429: retrying the same request cannot help. */
export class BootstrapRejected extends DeviceError {
  override name = 'BootstrapRejected';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`bootstrap refused the request: ${status} ${code}: ${message}`);
  }
}

/** The bootstrap did not give an answer after every allowed attempt (network, 429, 5xx). */
export class BootstrapUnavailable extends DeviceError {
  override name = 'BootstrapUnavailable';
  constructor(
    message: string,
    readonly attempts: number,
    readonly lastStatus?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The bootstrap's server certificate failed verification: a CA or URL problem, not a transient one. */
export class BootstrapUntrusted extends DeviceError {
  override name = 'BootstrapUntrusted';
}

/** A 200 whose body is not the documented answer. */
export class InvalidBootstrapAnswer extends DeviceError {
  override name = 'InvalidBootstrapAnswer';
}

/** AWS IoT answered on a `.../rejected` topic; the fields are exactly what the device received. */
export class AwsRejected extends DeviceError {
  override name = 'AwsRejected';
  constructor(
    readonly operation: string,
    readonly statusCode: number | undefined,
    readonly errorCode: string | undefined,
    readonly errorMessage: string | undefined,
  ) {
    super(`AWS IoT rejected ${operation}: ${statusCode ?? '?'} ${errorCode ?? '?'}: ${errorMessage ?? ''}`.trimEnd());
  }
}

/**
 * How a CONNECT failed, as far as the client can tell:
 * - `unreachable`: no MQTT session to speak of (nothing listening, DNS, TLS, no CONNACK in time);
 * - `throttled`: an MQTT 5 CONNACK that says so (server busy, quota exceeded, connection rate exceeded);
 * - `refused`: an MQTT 5 CONNACK with another reason (not authorized, banned, ...);
 * - `ended`: the server ended the connection without a reason the client can read: an MQTT
 *   3.1.1 refusal (the CRT does not pass its return code on) or a hang-up after the handshake.
 *   MQTT 3.1.1 has no code for throttling, so this may be one.
 */
export type ConnectFailureKind = 'unreachable' | 'throttled' | 'refused' | 'ended';

/** The MQTT connection could not be opened (refused, TLS failure, not authorized, time-out). */
export class MqttConnectFailed extends DeviceError {
  override name = 'MqttConnectFailed';
  constructor(
    readonly endpoint: string,
    message: string,
    options?: ErrorOptions,
    readonly kind: ConnectFailureKind = 'unreachable',
    /** The MQTT 5 CONNACK reason code, when the server sent one. */
    readonly reasonCode?: number,
  ) {
    super(`could not connect to ${endpoint}: ${message}`, options);
  }
}

/** An MQTT request got no answer in time, or the connection failed under it. */
export class MqttRequestFailed extends DeviceError {
  override name = 'MqttRequestFailed';
}

/** An answer from AWS IoT that does not have the documented fields. */
export class InvalidAwsAnswer extends DeviceError {
  override name = 'InvalidAwsAnswer';
}

/** Neither the assigned region nor any fallback accepted a connection. */
export class NoRegionAnswered extends DeviceError {
  override name = 'NoRegionAnswered';
}

/** The stored credentials or state are unreadable, inconsistent or expired. */
export class StoredStateInvalid extends DeviceError {
  override name = 'StoredStateInvalid';
}

/** A failure with the step it happened in; `cause` holds the failure itself. */
export class StepFailed extends DeviceError {
  override name = 'StepFailed';
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A move the device cannot make now (the bootstrap kept it where it is, or refused): it stays and asks again later. */
export class MoveNotPossible extends DeviceError {
  override name = 'MoveNotPossible';
}
