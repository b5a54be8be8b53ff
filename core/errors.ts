/**
 * Errors shared by every part of the product. Each is a small named class; adapters (Lambda
 * handlers, the local cloud, the CLI) map classes to status codes in one place each.
 */
export class ProvisioningError extends Error {
  override name = 'ProvisioningError';
}

/** A setting or deployment configuration is missing or invalid; raised at start-up. */
export class ConfigError extends ProvisioningError {
  override name = 'ConfigError';
}

/** Input from outside (HTTP body, MQTT payload, hook event, CLI flag) failed its schema. */
export class InvalidInput extends ProvisioningError {
  override name = 'InvalidInput';
}

/** A command-line flag, argument or input file is unusable; nothing was changed. */
export class UsageError extends ProvisioningError {
  override name = 'UsageError';
}

/** A stored record does not match its schema: a defect or a hand edit, never the caller's input. */
export class MalformedRecord extends ProvisioningError {
  override name = 'MalformedRecord';
}

/** A registry write lost its condition: the record was not in the state the write required. */
export class ConditionFailed extends ProvisioningError {
  override name = 'ConditionFailed';
}

/** A dependency (DynamoDB, the signer) did not answer in time or answered with a server error. */
export class DependencyUnavailable extends ProvisioningError {
  override name = 'DependencyUnavailable';
}

/** A dependency refused the call for rate; retrying later will work. */
export class DependencyThrottled extends DependencyUnavailable {
  override name = 'DependencyThrottled';
}

/** Returns a short, loggable description of an unknown thrown value, without stack or secrets. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
