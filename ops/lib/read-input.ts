import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';

/** A file the operator named, relative to the working folder, or standard input for `-`. */
export function readInput(ctx: CommandContext, path: string): string {
  try {
    return path === '-' ? ctx.readStdin() : ctx.readFile(ctx.resolvePath(path));
  } catch (cause) {
    throw new UsageError(`cannot read ${path}`, { cause });
  }
}
