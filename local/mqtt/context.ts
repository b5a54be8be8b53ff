import type { Logger } from '../log.js';
import type { KeyedRateLimiter, TokenBucket } from '../rate-limiter.js';
import type { BrokerHooks } from './api.js';
import type { ConnectionOwner } from './connection.js';
import type { RetainedStore } from './retained-store.js';
import type { SessionStore } from './session-store.js';
import type { BrokerSettings } from './settings.js';

/** The state and dependencies every part of one broker works with. */
export interface BrokerContext<P> {
  readonly settings: BrokerSettings;
  readonly maxFrameBytes: number;
  readonly hooks: BrokerHooks<P>;
  readonly log: Logger;
  readonly now: () => number;
  readonly sessions: SessionStore<P>;
  readonly retained: RetainedStore;
  /** CONNECTs per client id, when the broker enforces AWS's quota. */
  readonly connectLimiter: KeyedRateLimiter | undefined;
  /** Messages queued for offline sessions, across the broker (AWS: per account). */
  readonly queueLimiter: TokenBucket;
  /** Hands each new connection its way back to the broker. */
  readonly owner: ConnectionOwner<P>;
}
