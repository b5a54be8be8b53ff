import { decode as decodeCbor, encode as encodeCbor } from 'cborg';
import type { MqttClient } from 'mqtt';
import { nextAnswer } from './cloud.js';

/** The documented fleet provisioning payloads, sent with mqtt.js as a device without the SDK would. */

export type Format = 'json' | 'cbor';
export type Answer = { outcome: 'accepted' | 'rejected'; body: Record<string, unknown> };

export const encode = (format: Format, body: unknown): Buffer =>
  format === 'json' ? Buffer.from(JSON.stringify(body)) : Buffer.from(encodeCbor(body));

export const decode = (format: Format, payload: Buffer): Record<string, unknown> =>
  (format === 'json' ? JSON.parse(payload.toString('utf8')) : decodeCbor(payload)) as Record<string, unknown>;

/** Subscribes to both answer topics first (as AWS requires), publishes, and decodes the answer. */
export async function request(client: MqttClient, topic: string, payload: Buffer, format: Format): Promise<Answer> {
  await client.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
  const answer = nextAnswer(client, topic);
  await client.publishAsync(topic, payload, { qos: 1 });
  const { outcome, payload: body } = await answer;
  return { outcome, body: decode(format, body) };
}

export const createKeys = (client: MqttClient, format: Format = 'json'): Promise<Answer> =>
  request(client, `$aws/certificates/create/${format}`, encode(format, {}), format);

export const register = (client: MqttClient, template: string, body: unknown, format: Format = 'json'): Promise<Answer> =>
  request(client, `$aws/provisioning-templates/${template}/provision/${format}`, encode(format, body), format);

export interface ProvisionedDevice {
  thingName: string;
  certificateId: string;
  cert: string;
  key: string;
}

/** CreateKeysAndCertificate then RegisterThing on a claim connection; throws unless accepted. */
export async function provision(claim: MqttClient, template: string, thingName: string): Promise<ProvisionedDevice> {
  const created = await createKeys(claim);
  if (created.outcome !== 'accepted') throw new Error(`CreateKeysAndCertificate rejected: ${JSON.stringify(created.body)}`);
  const registered = await register(claim, template, {
    certificateOwnershipToken: created.body['certificateOwnershipToken'],
    parameters: { ThingName: thingName, Ticket: 't' },
  });
  if (registered.outcome !== 'accepted') throw new Error(`RegisterThing rejected: ${JSON.stringify(registered.body)}`);
  return {
    thingName,
    certificateId: String(created.body['certificateId']),
    cert: String(created.body['certificatePem']),
    key: String(created.body['privateKey']),
  };
}
