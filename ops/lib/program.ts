import { Command } from 'commander';
import type { Io } from './output.js';

/**
 * A commander program (or a test's stand-in) that throws instead of exiting the process and
 * writes help and errors through `io`, so the CLI runs in process and returns its exit code.
 */
export function createProgram(name: string, io: Io): Command {
  return new Command(name)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showHelpAfterError(`(${name} --help lists the commands)`);
}
