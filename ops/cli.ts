/**
 * `iot-ops`: the operator's command line (entry `bin.ts`; in the repository `npm run ops --`).
 * Commands: enroll, status, list, reset, block, unblock, export, move, rotate, policy, cleanup, plan; templates
 * list|diff|deploy|rollback; regions status|drain|undrain; claim register; verify; one file each
 * under commands/. See ops/README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, CommanderError } from 'commander';
import { describeError } from '@global-iot/core/errors.js';
import { TemplateValidationError } from '@global-iot/core/template/index.js';
import { COMMANDS } from './commands/index.js';
import type { Bind } from './lib/command.js';
import { type CommandContext, createContext } from './lib/context.js';
import { EXIT, type ExitCode, exitCodeOf } from './lib/errors.js';
import { globalFlags } from './lib/global-flags.js';
import { type Io, toJson } from './lib/output.js';
import { createProgram } from './lib/program.js';

export const PROGRAM_NAME = 'iot-ops';

export interface CliEnvironment {
  readonly io: Io;
  /** Environment variables: OPS_CONFIG, OPS_ENDPOINT_DYNAMODB, OPS_ENDPOINT_IOT, OPS_ENDPOINT_LAMBDA. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now?: () => number;
  readonly readFile?: (path: string) => string;
  readonly writeFile?: (path: string, data: string) => void;
  /** Standard input, for `enroll --file -`. */
  readonly readStdin?: () => string;
}

/** The error as the operator sees it: the message, and a template's every problem. */
function printError(io: Io, json: boolean, error: unknown): void {
  const issues = error instanceof TemplateValidationError ? error.issues : undefined;
  if (json) {
    const name = error instanceof Error ? error.name : 'Error';
    io.stdout(toJson({ error: { name, message: error instanceof Error ? error.message : String(error), ...(issues ? { issues } : {}) } }));
  }
  io.stderr(`error: ${error instanceof Error ? error.message : describeError(error)}\n`);
  if (issues && issues.length > 1) for (const issue of issues) io.stderr(`  ${issue.path}: ${issue.message}\n`);
}

/** Parses `argv` (the arguments after the program name), runs the command and returns its exit code. */
export async function runCli(argv: readonly string[], environment: CliEnvironment): Promise<ExitCode> {
  const { io, env, cwd } = environment;
  let exitCode: ExitCode = EXIT.ok;
  const program = createProgram(PROGRAM_NAME, io).description(
    'Operate the global IoT provisioning deployment: registry, moves and certificate rotation, templates, regions, claim certificate.',
  );
  globalFlags.addTo(program);

  const contextOf = (command: Command): CommandContext => {
    const flags = globalFlags.parse(command.optsWithGlobals());
    const configFile = flags.config ?? env['OPS_CONFIG'];
    const endpointDynamodb = flags.endpointDynamodb ?? env['OPS_ENDPOINT_DYNAMODB'];
    const endpointIot = flags.endpointIot ?? env['OPS_ENDPOINT_IOT'];
    const endpointLambda = flags.endpointLambda ?? env['OPS_ENDPOINT_LAMBDA'];
    return createContext({
      io,
      json: flags.json,
      quiet: flags.quiet,
      now: environment.now ?? Date.now,
      timeoutMs: flags.timeout,
      ...(configFile !== undefined ? { configFile } : {}),
      target: {
        ...(endpointDynamodb !== undefined ? { endpointDynamodb } : {}),
        ...(endpointIot !== undefined ? { endpointIot } : {}),
        ...(endpointLambda !== undefined ? { endpointLambda } : {}),
      },
      readFile: environment.readFile ?? ((path) => readFileSync(path, 'utf8')),
      writeFile: environment.writeFile ?? ((path, data) => writeFileSync(path, data)),
      readStdin: environment.readStdin ?? (() => readFileSync(0, 'utf8')),
      resolvePath: (path) => resolve(cwd, path),
      cwd,
    });
  };

  const bind: Bind =
    (handler) =>
    async (...commanderArgs) => {
      const command = commanderArgs.at(-1) as Command;
      // Known before the flags are validated, so that a bad flag is reported as the caller asked.
      const json = globalFlags.peek(command.optsWithGlobals(), 'json') ?? false;
      try {
        const ctx = contextOf(command);
        exitCode = await handler(ctx, command.processedArgs, command.opts());
      } catch (error) {
        printError(io, json, error);
        exitCode = exitCodeOf(error);
      }
    };

  for (const command of COMMANDS) command.register(program, bind);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // Help and version are answers, not failures; everything else commander refuses is usage.
    const informational = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || (error.code === 'commander.help' && error.exitCode === 0);
    return informational ? EXIT.ok : EXIT.usage;
  }
  return exitCode;
}
