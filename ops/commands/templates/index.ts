import { defineGroup } from '../../lib/command.js';
import { templatesDeploy } from './deploy.js';
import { templatesDiff } from './diff.js';
import { templatesList } from './list.js';
import { templatesRollback } from './rollback.js';

export const templateCommands = defineGroup('templates', 'the fleet provisioning template in every region', [
  templatesList,
  templatesDiff,
  templatesDeploy,
  templatesRollback,
]);
