import type { CliCommand } from '../../lib/command.js';
import { block } from './block.js';
import { enroll } from './enroll.js';
import { exportRecords } from './export.js';
import { list } from './list.js';
import { reset } from './reset.js';
import { status } from './status.js';
import { unblock } from './unblock.js';

/** The device registry's commands, at the top level (`iot-ops enroll`, not `iot-ops registry enroll`). */
export const registryCommands: readonly CliCommand[] = [enroll, status, list, reset, block, unblock, exportRecords];
