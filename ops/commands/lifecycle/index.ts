import type { CliCommand } from '../../lib/command.js';
import { cleanup } from './cleanup.js';
import { move } from './move.js';
import { policy } from './policy.js';
import { rotate } from './rotate.js';

/** After the first boot: moves, rotation, reprovisioning policy, clean-up (README, "After the first boot"). */
export const lifecycleCommands: readonly CliCommand[] = [move, rotate, policy, cleanup];
