/**
 * The bootstrap's answers other than success. Each class carries its HTTP status and the stable
 * `code` firmware can switch on; `app.ts` maps them to responses in one place.
 */
export abstract class BootstrapError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  /** Seconds after which a retry makes sense (503 and 429). */
  readonly retryAfterSeconds?: number;
}

export class BadRequest extends BootstrapError {
  override name = 'BadRequest';
  readonly status = 400;
  readonly code = 'INVALID_REQUEST';
}

export class PayloadTooLarge extends BootstrapError {
  override name = 'PayloadTooLarge';
  readonly status = 413;
  readonly code = 'PAYLOAD_TOO_LARGE';
}

export class MethodNotAllowed extends BootstrapError {
  override name = 'MethodNotAllowed';
  readonly status = 405;
  readonly code = 'METHOD_NOT_ALLOWED';
}

/**
 * Every failure before the signature is verified: an unknown device and a bad signature get this
 * same answer, so a caller can never probe which thing names exist.
 */
export class Unauthorized extends BootstrapError {
  override name = 'Unauthorized';
  readonly status = 401;
  readonly code = 'UNAUTHORIZED';
  constructor() {
    super('the request could not be authenticated');
  }
}

/** The timestamp is outside the accepted clock skew (decided before any lookup). */
export class RequestExpired extends BootstrapError {
  override name = 'RequestExpired';
  readonly status = 401;
  readonly code = 'REQUEST_EXPIRED';
}

/** A legacy (timestamp-free) request where the deployment does not accept them. */
export class LegacySignatureRefused extends BootstrapError {
  override name = 'LegacySignatureRefused';
  readonly status = 401;
  readonly code = 'LEGACY_SIGNATURE_REFUSED';
}

/** A validly signed request whose timestamp is not newer than the last accepted one. */
export class ReplayedRequest extends BootstrapError {
  override name = 'ReplayedRequest';
  readonly status = 401;
  readonly code = 'REPLAYED_REQUEST';
}

export class DeviceBlocked extends BootstrapError {
  override name = 'DeviceBlocked';
  readonly status = 403;
  readonly code = 'DEVICE_BLOCKED';
}

export class AlreadyProvisioned extends BootstrapError {
  override name = 'AlreadyProvisioned';
  readonly status = 409;
  readonly code = 'ALREADY_PROVISIONED';
}

/**
 * The device is asked to move (`iot-ops move`), but its move cannot be placed now: the target is
 * no longer enabled, is draining, breaks the device's residency rule, or (`nearest`) no region but
 * its own can take it. The device keeps running where it is; the operator changes the move.
 */
export class MoveRefused extends BootstrapError {
  override name = 'MoveRefused';
  readonly status = 409;
  readonly code = 'MOVE_REFUSED';
}

/** Another request for the same device changed the record first. */
export class Conflict extends BootstrapError {
  override name = 'Conflict';
  readonly status = 409;
  readonly code = 'CONFLICT';
}

export class Throttled extends BootstrapError {
  override name = 'Throttled';
  readonly status = 429;
  readonly code = 'THROTTLED';
  override readonly retryAfterSeconds = 2;
}

export class ServiceUnavailable extends BootstrapError {
  override name = 'ServiceUnavailable';
  readonly status = 503;
  readonly code = 'SERVICE_UNAVAILABLE';
  override readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 5, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class NoRegionAvailable extends BootstrapError {
  override name = 'NoRegionAvailable';
  readonly status = 503;
  readonly code = 'NO_REGION_AVAILABLE';
  override readonly retryAfterSeconds = 60;
}

/**
 * The region this device would go to has admitted as many new devices this second as its
 * ceiling allows (quota-aware admission): come back after `retryAfterSeconds`, which spreads a
 * burst over the seconds it needs.
 */
export class RegionBusy extends BootstrapError {
  override name = 'RegionBusy';
  readonly status = 429;
  readonly code = 'REGION_BUSY';
  override readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
