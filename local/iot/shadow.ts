import {
  applyUpdate,
  clientTokenOf,
  deleteDocument,
  errorDocument,
  getDocument,
  type JsonObject,
  parseUpdate,
  ShadowError,
  type StoredShadow,
} from './shadow-document.js';

export { ShadowError } from './shadow-document.js';

/**
 * One region's Device Shadow service: classic and named shadows over MQTT (the reserved
 * `$aws/things/<thing>/shadow[/name/<name>]/get|update|delete` topics, answered on their
 * `/accepted` and `/rejected` topics, `/update/delta` and `/update/documents`, routed like any
 * message, so every authorized subscriber gets them) and over the IoT data plane's HTTP API
 * (GetThingShadow, UpdateThingShadow, DeleteThingShadow). The documents are shadow-document.ts's.
 * A shadow does not need its thing to exist, and deleting a thing leaves its shadow, as on AWS.
 */

export interface ShadowStore {
  getShadow(thingName: string, shadowName: string | undefined): StoredShadow | undefined;
  putShadow(thingName: string, shadowName: string | undefined, shadow: StoredShadow): void;
}

export interface ShadowService {
  /** A publish on a shadow topic; true when it was one (a request answered, or a response topic, which reaches nobody). */
  handleMqtt(topic: string, payload: Buffer): boolean;
  get(thingName: string, shadowName?: string): JsonObject;
  update(thingName: string, shadowName: string | undefined, payload: Buffer): JsonObject;
  delete(thingName: string, shadowName?: string): JsonObject;
}

const SHADOW_TOPIC = /^\$aws\/things\/([^/]+)\/shadow(?:\/name\/([^/]+))?\/(get|update|delete)(\/.+)?$/;

export interface ShadowTopic {
  readonly thingName: string;
  readonly shadowName?: string;
  readonly operation: 'get' | 'update' | 'delete';
  /** Set for a response topic (`/accepted`, `/delta`...): AWS's to publish. */
  readonly response?: string;
}

export function parseShadowTopic(topic: string): ShadowTopic | undefined {
  const match = SHADOW_TOPIC.exec(topic);
  if (!match?.[1] || !match[3]) return undefined;
  return {
    thingName: match[1],
    ...(match[2] ? { shadowName: match[2] } : {}),
    operation: match[3] as ShadowTopic['operation'],
    ...(match[4] ? { response: match[4] } : {}),
  };
}

function prefixOf(thingName: string, shadowName: string | undefined): string {
  return shadowName === undefined ? `$aws/things/${thingName}/shadow` : `$aws/things/${thingName}/shadow/name/${shadowName}`;
}

export function createShadowService(options: {
  store: ShadowStore;
  /** Routes a message the service publishes (to every authorized subscriber). */
  publish: (topic: string, payload: Buffer) => void;
  now: () => number;
}): ShadowService {
  const { store, publish } = options;
  const seconds = (): number => Math.floor(options.now() / 1000);
  const send = (topic: string, body: JsonObject): void => publish(topic, Buffer.from(JSON.stringify(body)));
  const nameOf = (thingName: string, shadowName: string | undefined): string => shadowName ?? thingName;

  /** An update; `/update/accepted` (MQTT only) goes before delta and documents, as AWS sends them. */
  function update(thingName: string, shadowName: string | undefined, payload: Buffer, onAccepted?: (accepted: JsonObject) => void): JsonObject {
    const request = parseUpdate(payload);
    const outcome = applyUpdate(store.getShadow(thingName, shadowName), request, seconds());
    store.putShadow(thingName, shadowName, outcome.stored);
    onAccepted?.(outcome.accepted);
    const prefix = prefixOf(thingName, shadowName);
    if (outcome.delta) send(`${prefix}/update/delta`, outcome.delta);
    send(`${prefix}/update/documents`, outcome.documents);
    return outcome.accepted;
  }

  function answer(topic: ShadowTopic, payload: Buffer): void {
    const prefix = `${prefixOf(topic.thingName, topic.shadowName)}/${topic.operation}`;
    const token = clientTokenOf(payload);
    const accept = (body: JsonObject): void => send(`${prefix}/accepted`, body);
    try {
      if (topic.operation === 'get') accept(getDocument(store.getShadow(topic.thingName, topic.shadowName), nameOf(topic.thingName, topic.shadowName), seconds(), token));
      else if (topic.operation === 'delete') accept(remove(topic.thingName, topic.shadowName, token));
      else update(topic.thingName, topic.shadowName, payload, accept);
    } catch (error) {
      if (!(error instanceof ShadowError)) throw error;
      send(`${prefix}/rejected`, errorDocument(error, seconds(), token));
    }
  }

  function remove(thingName: string, shadowName: string | undefined, token?: string): JsonObject {
    const { stored, accepted } = deleteDocument(store.getShadow(thingName, shadowName), nameOf(thingName, shadowName), seconds(), token);
    store.putShadow(thingName, shadowName, stored);
    return accepted;
  }

  return {
    handleMqtt(topic, payload) {
      const parsed = parseShadowTopic(topic);
      if (!parsed) return false;
      if (parsed.response === undefined) answer(parsed, payload);
      return true;
    },
    get: (thingName, shadowName) => getDocument(store.getShadow(thingName, shadowName), nameOf(thingName, shadowName), seconds()),
    update: (thingName, shadowName, payload) => update(thingName, shadowName, payload),
    delete: (thingName, shadowName) => remove(thingName, shadowName),
  };
}
