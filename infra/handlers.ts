import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@global-iot/core/errors.js';
import { PROJECT_ROOT } from './constructs/provisioning-function.js';

/** The TypeScript modules (each exporting `handler`) that the stacks bundle. */
export interface HandlerEntries {
  readonly bootstrap: string;
  readonly hook: string;
  readonly confirm: string;
  /** The bootstrap API's authorizer when the edge is on. */
  readonly originCheck: string;
}

export const DEFAULT_HANDLER_ENTRIES: HandlerEntries = {
  bootstrap: join(PROJECT_ROOT, 'bootstrap-service', 'handler.ts'),
  hook: join(PROJECT_ROOT, 'pre-provisioning-hook', 'handler.ts'),
  confirm: join(PROJECT_ROOT, 'pre-provisioning-hook', 'confirm-handler.ts'),
  originCheck: join(PROJECT_ROOT, 'bootstrap-service', 'origin-check-handler.ts'),
};

/** A handler module the stacks bundle is missing. */
export class HandlerEntryError extends ConfigError {
  override name = 'HandlerEntryError';
}

/** Fails before bundling with the list of missing modules, rather than esbuild's first complaint. */
export function checkHandlerEntries(entries: HandlerEntries, exists: (path: string) => boolean = existsSync): void {
  const missing = Object.entries(entries).filter(([, path]) => !exists(path));
  if (missing.length > 0) {
    throw new HandlerEntryError(`handler modules missing: ${missing.map(([name, path]) => `${name} (${path})`).join(', ')}`);
  }
}
