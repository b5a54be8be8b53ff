import { topicMatches } from './topics.js';

export interface Subscription {
  readonly qos: 0 | 1;
  /** MQTT 5: the client does not want its own messages back. */
  readonly noLocal: boolean;
}

/** One session's subscriptions, by topic filter. */
export class Subscriptions {
  private readonly byFilter = new Map<string, Subscription>();

  set(filter: string, subscription: Subscription): void {
    this.byFilter.set(filter, subscription);
  }

  delete(filter: string): boolean {
    return this.byFilter.delete(filter);
  }

  get(filter: string): Subscription | undefined {
    return this.byFilter.get(filter);
  }

  /** The highest QoS of the subscriptions that match, or undefined when none does. */
  matchingQos(topic: string, fromSelf: boolean): 0 | 1 | undefined {
    let best: 0 | 1 | undefined;
    for (const [filter, sub] of this.byFilter) {
      if (fromSelf && sub.noLocal) continue;
      if (topicMatches(filter, topic) && (best === undefined || sub.qos > best)) best = sub.qos;
    }
    return best;
  }
}
