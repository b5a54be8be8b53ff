import type { MqttClient } from 'mqtt';
import type { ISubackPacket } from 'mqtt-packet';

/** MQTT requests a test makes by hand: one subscription at a time, one request and its answer. */

/** Subscribes to each filter on its own and returns the granted codes (128: refused; the connection stays). */
export async function subscribeEach(client: MqttClient, filters: readonly string[]): Promise<number[]> {
  const codes: number[] = [];
  for (const filter of filters) {
    codes.push(
      await new Promise<number>((resolve, reject) => {
        client.subscribe(filter, { qos: 1 }, (error, _granted, packet) => {
          // mqtt.js reports a refused subscription as an error carrying the SUBACK.
          const suback = packet ?? (error as (Error & { packet?: ISubackPacket }) | null)?.packet;
          const code = suback?.granted[0];
          if (typeof code === 'number') resolve(code);
          else reject(error ?? new Error('no SUBACK'));
        });
      }),
    );
  }
  return codes;
}

export type Outcome = { kind: 'accepted' | 'rejected'; body: Record<string, unknown> } | { kind: 'closed' };

/** Publishes and waits for the answer on this connection, or for the broker to close it. */
export function publishAndWait(client: MqttClient, topic: string, payload: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no answer and no close within 10 s for ${topic}`));
    }, 10_000);
    const onMessage = (received: string, message: Buffer) => {
      const kind = received === `${topic}/accepted` ? 'accepted' : received === `${topic}/rejected` ? 'rejected' : undefined;
      if (!kind) return;
      done();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(message.toString('utf8')) as Record<string, unknown>;
      } catch {
        // CBOR answers are checked by their topic alone.
      }
      resolve({ kind, body });
    };
    const onClose = () => {
      done();
      resolve({ kind: 'closed' });
    };
    const done = () => {
      clearTimeout(timer);
      client.off('message', onMessage);
      client.off('close', onClose);
    };
    client.on('message', onMessage);
    client.on('close', onClose);
    client.publish(topic, payload, { qos: 1 });
  });
}

