import { blockDevice } from '../../lib/device-lifecycle.js';
import { lifecycleCommand } from './status-change.js';

export const block = lifecycleCommand(
  'block',
  'refuse a device: the registry blocks it and its certificates go INACTIVE in every region (open connections drop)',
  blockDevice,
);
