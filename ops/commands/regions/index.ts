import { defineGroup } from '../../lib/command.js';
import { drain } from './drain.js';
import { regionsStatus } from './status.js';
import { undrain } from './undrain.js';

export const regionCommands = defineGroup('regions', 'the regions devices are provisioned into', [regionsStatus, drain, undrain]);
