import { statusChangeCommand } from './status-change.js';

export const block = statusChangeCommand('block', 'refuse a device at the bootstrap and the hook, recording the reason');
