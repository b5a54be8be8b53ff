import { statusChangeCommand } from './status-change.js';

export const unblock = statusChangeCommand('unblock', 'return a blocked device to unprovisioned, recording the reason');
