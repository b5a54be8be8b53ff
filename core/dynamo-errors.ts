import { DependencyThrottled, DependencyUnavailable } from './errors.js';

/**
 * Turns a DynamoDB failure a caller can act on into the product's errors: throttling into
 * `DependencyThrottled` (answer 429, retry later), a server error or no answer into
 * `DependencyUnavailable` (503). Anything else (a bug, a malformed request) is rethrown as is.
 * Shared by every module that talks to DynamoDB, so all of them map the same failure alike.
 */
export function throwAsDependencyError(error: unknown): never {
  if (error instanceof Error) {
    const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
    const status = meta?.httpStatusCode;
    const throttled = /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded/.test(error.name);
    if (throttled) throw new DependencyThrottled(`DynamoDB throttled: ${error.name}`, { cause: error });
    if (status === undefined || status >= 500) {
      throw new DependencyUnavailable(`DynamoDB unavailable: ${error.name}`, { cause: error });
    }
  }
  throw error;
}
