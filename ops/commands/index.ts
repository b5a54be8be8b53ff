import type { CliCommand } from '../lib/command.js';
import { claimCommands } from './claim/index.js';
import { lifecycleCommands } from './lifecycle/index.js';
import { plan } from './plan/plan.js';
import { regionCommands } from './regions/index.js';
import { registryCommands } from './registry/index.js';
import { templateCommands } from './templates/index.js';
import { verify } from './verify.js';

/** Every command, in the order `iot-ops --help` lists them; one file per subcommand below this folder. */
export const COMMANDS: readonly CliCommand[] = [...registryCommands, ...lifecycleCommands, templateCommands, regionCommands, plan, claimCommands, verify];
