import { unblockDevice } from '../../lib/device-lifecycle.js';
import { lifecycleCommand } from './status-change.js';

export const unblock = lifecycleCommand(
  'unblock',
  'release a blocked device: the certificates the block deactivated go ACTIVE again, then the registry returns it to where it was (or to unprovisioned)',
  unblockDevice,
);
