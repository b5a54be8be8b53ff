import { topicMatches } from './topics.js';

export interface RetainedMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
}

/** The last retained message of each topic; an empty retained payload deletes it (MQTT, AWS). */
export class RetainedStore {
  private readonly byTopic = new Map<string, RetainedMessage>();

  keep(topic: string, payload: Buffer, qos: 0 | 1): void {
    if (payload.length === 0) this.byTopic.delete(topic);
    else this.byTopic.set(topic, { topic, payload, qos });
  }

  /** The retained messages a new subscription to `filter` receives. */
  *matching(filter: string): Generator<RetainedMessage> {
    for (const message of this.byTopic.values()) {
      if (topicMatches(filter, message.topic)) yield message;
    }
  }
}
