import { ConfigError, InvalidInput, ProvisioningError, UsageError } from '@global-iot/core/errors.js';
import { TemplateValidationError } from '@global-iot/core/template/index.js';

/** The CLI's exit codes; ops/README.md documents them for scripts. */
export const EXIT = Object.freeze({
  ok: 0,
  /** The operation failed: nothing (or nothing more) was done. */
  failed: 1,
  /** Bad flags, arguments, configuration or input file: refused before any change. */
  usage: 2,
  /** Some items or regions succeeded and some failed; the report says which. */
  partial: 3,
});
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The operation could not be carried out (a device is missing, a region refused the call). */
export class OperationFailed extends ProvisioningError {
  override name = 'OperationFailed';
}

/** Maps an error to its exit code in one place. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError || error instanceof InvalidInput || error instanceof ConfigError) return EXIT.usage;
  if (error instanceof TemplateValidationError) return EXIT.usage;
  return EXIT.failed;
}

export { UsageError };
