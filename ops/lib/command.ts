import type { CommandContext } from './context.js';
import { EXIT, type ExitCode } from './errors.js';

/** A command's logic: validated inside, it prints its result and returns its exit code. */
export type Handler = (ctx: CommandContext, args: readonly unknown[], flags: Readonly<Record<string, unknown>>) => Promise<ExitCode>;

/** Turns a handler into a commander action; the CLI entry supplies the context and error mapping. */
export type Bind = (handler: Handler) => (...commanderArgs: unknown[]) => Promise<void>;

/** 0 when nothing failed, 3 when some items failed and some succeeded, 1 when all failed. */
export function outcomeCode(succeeded: number, failed: number): ExitCode {
  if (failed === 0) return EXIT.ok;
  return succeeded > 0 ? EXIT.partial : EXIT.failed;
}
