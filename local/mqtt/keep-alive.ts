import type { BrokerSettings } from './settings.js';

/** AWS IoT clamps the keep-alive a client asks for; 0 (none) becomes the maximum. */
export function effectiveKeepAlive(requested: number, settings: Pick<BrokerSettings, 'minKeepAliveSeconds' | 'maxKeepAliveSeconds'>): number {
  if (requested === 0) return settings.maxKeepAliveSeconds;
  return Math.min(settings.maxKeepAliveSeconds, Math.max(settings.minKeepAliveSeconds, requested));
}

/**
 * MQTT: a client silent for 1.5 keep-alive periods is gone. Every packet from the client calls
 * `touch`, which restarts the one timer rather than making a new one.
 */
export class KeepAlive {
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly seconds: number,
    onExpired: () => void,
  ) {
    this.timer = setTimeout(onExpired, seconds * 1500);
    this.timer.unref();
  }

  touch(): void {
    this.timer.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
