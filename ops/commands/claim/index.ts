import { defineGroup } from '../../lib/command.js';
import { claimRegister } from './register.js';

export const claimCommands = defineGroup('claim', 'the shared claim certificate devices leave the factory with', [claimRegister]);
