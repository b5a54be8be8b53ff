import { statusChangeCommand } from './status-change.js';

export const reset = statusChangeCommand('reset', 'return a device to unprovisioned (it bootstraps again), recording the reason');
