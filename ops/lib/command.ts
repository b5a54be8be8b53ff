import type { Command } from 'commander';
import type { CommandContext } from './context.js';
import { EXIT, type ExitCode } from './errors.js';
import type { Arg, ArgSet, ArgValues, Flag, FlagSet, FlagValues } from './flags.js';

/** A command's logic: validated inside, it prints its result and returns its exit code. */
export type Handler = (ctx: CommandContext, args: readonly unknown[], flags: Readonly<Record<string, unknown>>) => Promise<ExitCode>;

/** Turns a handler into a commander action; the CLI entry supplies the context and error mapping. */
export type Bind = (handler: Handler) => (...commanderArgs: unknown[]) => Promise<void>;

/** A command (or a group of them) that can put itself on a commander program. */
export interface CliCommand {
  readonly name: string;
  register(parent: Command, bind: Bind): void;
}

type NoArgs = Record<never, Arg>;
type NoFlags = Record<never, Flag>;

export interface CommandSpec<A extends Record<string, Arg>, F extends Record<string, Flag>> {
  readonly name: string;
  readonly description: string;
  readonly args?: ArgSet<A>;
  readonly flags?: FlagSet<F>;
  /** Runs with validated arguments and flags; bad ones never reach it. */
  run(ctx: CommandContext, input: { args: ArgValues<A>; flags: FlagValues<F> }): Promise<ExitCode>;
}

/** One subcommand: its arguments and flags declared once, validated before `run`. */
export function defineCommand<A extends Record<string, Arg> = NoArgs, F extends Record<string, Flag> = NoFlags>(
  spec: CommandSpec<A, F>,
): CliCommand {
  return {
    name: spec.name,
    register(parent, bind) {
      const command = parent.command(spec.name).description(spec.description);
      spec.args?.addTo(command);
      spec.flags?.addTo(command);
      command.action(
        bind(async (ctx, rawArgs, rawFlags) => {
          const flags = (spec.flags ? spec.flags.parse(rawFlags) : {}) as FlagValues<F>;
          const args = (spec.args ? spec.args.parse(rawArgs) : {}) as ArgValues<A>;
          return spec.run(ctx, { args, flags });
        }),
      );
    },
  };
}

/** A command that only groups others (`templates`, `regions`, `claim`). */
export function defineGroup(name: string, description: string, commands: readonly CliCommand[]): CliCommand {
  return {
    name,
    register(parent, bind) {
      const group = parent.command(name).description(description);
      for (const command of commands) command.register(group, bind);
    },
  };
}

/** 0 when nothing failed, 3 when some items failed and some succeeded, 1 when all failed. */
export function outcomeCode(succeeded: number, failed: number): ExitCode {
  if (failed === 0) return EXIT.ok;
  return succeeded > 0 ? EXIT.partial : EXIT.failed;
}

/** The exit code of a report with one row per region (or item), from the rows that failed. */
export function rowsOutcome<Row>(rows: readonly Row[], failed: (row: Row) => boolean): ExitCode {
  const failures = rows.filter(failed).length;
  return outcomeCode(rows.length - failures, failures);
}
