/**
 * The Device Shadow service's documents (AWS IoT developer guide: "Device Shadow service
 * documents", "Interacting with shadows", "Device Shadow error messages"), as pure functions: a
 * request checked, an update merged, the delta between desired and reported, and the answers the
 * service publishes. Shared by the MQTT topics and the HTTP API of the local cloud (shadow.ts).
 *
 * What is modelled: partial updates (a `null` value deletes a key, a `null` section deletes the
 * section, an emptied section disappears), arrays replaced whole, optimistic locking by `version`,
 * `clientToken` echoed (at most 64 bytes), metadata timestamps per leaf, 8 KB of state, at most 6
 * levels of nesting, a version that survives deletion. A delta is published when an update sets
 * desired state and desired and reported then differ (AWS sends `/delta` for changes to desired).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ShadowSections {
  desired?: JsonObject;
  reported?: JsonObject;
}

/** What a region keeps per shadow; `state` undefined once deleted (its version stays). */
export interface StoredShadow {
  state?: ShadowSections;
  metadata?: { desired?: JsonObject; reported?: JsonObject };
  version: number;
}

/** AWS's error response document: `{code, message, timestamp, clientToken}`. */
export class ShadowError extends Error {
  override name = 'ShadowError';
  constructor(
    readonly code: 400 | 404 | 409 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** AWS: a classic shadow's state document is at most 8 KB. */
export const MAX_STATE_BYTES = 8 * 1024;
export const MAX_DEPTH = 6;
export const MAX_CLIENT_TOKEN_BYTES = 64;

export interface UpdateRequest {
  /** Each section as sent: an object to merge, `null` to delete it; absent: untouched. */
  readonly desired?: JsonObject | null;
  readonly reported?: JsonObject | null;
  readonly version?: number;
  readonly clientToken?: string;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function depthOf(value: Json): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (isObject(value)) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

function parseJson(payload: Buffer | string): unknown {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ShadowError(400, 'Invalid JSON');
  }
}

/** The client token of any request, if it carries a valid one (for the rejected answer's echo). */
export function clientTokenOf(payload: Buffer | string): string | undefined {
  try {
    const body = parseJson(payload);
    return isObject(body) && typeof body['clientToken'] === 'string' && Buffer.byteLength(body['clientToken']) <= MAX_CLIENT_TOKEN_BYTES
      ? body['clientToken']
      : undefined;
  } catch {
    return undefined;
  }
}

function checkClientToken(token: unknown): string | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string' || Buffer.byteLength(token) > MAX_CLIENT_TOKEN_BYTES) throw new ShadowError(400, 'Invalid clientToken');
  return token;
}

function checkSection(name: 'desired' | 'reported', value: unknown): JsonObject | null | undefined {
  if (value === undefined || value === null) return value;
  if (!isObject(value)) throw new ShadowError(400, `${name === 'desired' ? 'Desired' : 'Reported'} node must be an object`);
  // Arrays can't have null values (AWS refuses them).
  const hasNullInArray = (v: Json): boolean => (Array.isArray(v) ? v.some((x) => x === null || hasNullInArray(x)) : isObject(v) ? Object.values(v).some(hasNullInArray) : false);
  if (hasNullInArray(value)) throw new ShadowError(400, 'Invalid JSON');
  return value;
}

/** Checks an update request's document; the errors are AWS's messages. */
export function parseUpdate(payload: Buffer | string): UpdateRequest {
  if (Buffer.byteLength(payload) > MAX_STATE_BYTES * 2) throw new ShadowError(413, 'The payload exceeds the maximum size allowed');
  const body = parseJson(payload);
  if (!isObject(body)) throw new ShadowError(400, 'Invalid JSON');
  const clientToken = checkClientToken(body['clientToken']);
  const version = body['version'];
  if (version !== undefined && (typeof version !== 'number' || !Number.isInteger(version) || version < 0)) throw new ShadowError(400, 'Invalid version');
  if (!('state' in body)) throw new ShadowError(400, 'Missing required node: state');
  const state = body['state'];
  if (!isObject(state)) throw new ShadowError(400, 'State node must be an object');
  if (Object.keys(state).some((key) => key !== 'desired' && key !== 'reported')) throw new ShadowError(400, 'State contains an invalid node');
  if (depthOf(state) - 1 > MAX_DEPTH) throw new ShadowError(400, 'JSON contains too many levels of nesting; maximum is 6');
  if (Buffer.byteLength(JSON.stringify(state)) > MAX_STATE_BYTES) throw new ShadowError(413, 'The payload exceeds the maximum size allowed');
  const desired = checkSection('desired', state['desired']);
  const reported = checkSection('reported', state['reported']);
  return {
    ...(desired !== undefined ? { desired } : {}),
    ...(reported !== undefined ? { reported } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(clientToken !== undefined ? { clientToken } : {}),
  };
}

/** Merges `patch` into `base`: `null` deletes, objects merge, anything else replaces. */
function merge(base: JsonObject | undefined, patch: JsonObject): JsonObject | undefined {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value) && isObject(out[key])) {
      const merged = merge(out[key], value);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else if (isObject(value)) {
      const fresh = merge(undefined, value);
      if (fresh !== undefined) out[key] = fresh;
    } else out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The metadata of `patch`: a timestamp on every leaf it sets, `null` where it deletes. */
function stamp(patch: JsonObject, timestamp: number): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(patch)) {
    out[key] = value === null ? null : isObject(value) ? stamp(value, timestamp) : { timestamp };
  }
  return out;
}

function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Desired keys whose reported value differs or is missing; nested objects by their own keys. */
export function deltaOf(desired: JsonObject | undefined, reported: JsonObject | undefined): JsonObject | undefined {
  if (!desired) return undefined;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(desired)) {
    const other = reported?.[key];
    if (isObject(value) && isObject(other)) {
      const inner = deltaOf(value, other);
      if (inner !== undefined) out[key] = inner;
    } else if (!sameJson(value, other)) out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The metadata of the delta's keys (from the desired metadata). */
function pick(metadata: JsonObject | undefined, shape: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(shape)) {
    const meta = metadata?.[key];
    out[key] = isObject(value) && isObject(meta) && !('timestamp' in meta) ? pick(meta, value) : (meta ?? null);
  }
  return out;
}

export interface UpdateOutcome {
  readonly stored: StoredShadow;
  /** `/update/accepted` (and the HTTP answer). */
  readonly accepted: JsonObject;
  /** `/update/documents`. */
  readonly documents: JsonObject;
  /** `/update/delta`, when the update set desired state and it now differs from reported. */
  readonly delta?: JsonObject;
}

function sectionsOf(shadow: StoredShadow | undefined): JsonObject {
  const state = shadow?.state;
  return { ...(state?.desired ? { desired: state.desired } : {}), ...(state?.reported ? { reported: state.reported } : {}) };
}

function metadataOf(shadow: StoredShadow | undefined): JsonObject {
  const meta = shadow?.metadata;
  return { ...(meta?.desired ? { desired: meta.desired } : {}), ...(meta?.reported ? { reported: meta.reported } : {}) };
}

/** Applies an update at `timestamp` (epoch seconds); throws ShadowError 409 on a version conflict. */
export function applyUpdate(current: StoredShadow | undefined, request: UpdateRequest, timestamp: number): UpdateOutcome {
  const exists = current?.state !== undefined;
  const currentVersion = current?.version ?? 0;
  if (request.version !== undefined && request.version !== currentVersion) throw new ShadowError(409, 'Version conflict');
  const state: ShadowSections = { ...current?.state };
  const metadata: { desired?: JsonObject; reported?: JsonObject } = { ...current?.metadata };
  for (const section of ['desired', 'reported'] as const) {
    const patch = request[section];
    if (patch === undefined) continue;
    if (patch === null) {
      delete state[section];
      delete metadata[section];
      continue;
    }
    const merged = merge(state[section], patch);
    const mergedMeta = merge(metadata[section], stamp(patch, timestamp));
    if (merged === undefined) delete state[section];
    else state[section] = merged;
    if (mergedMeta === undefined) delete metadata[section];
    else metadata[section] = mergedMeta;
  }
  const stored: StoredShadow = { state, metadata, version: currentVersion + 1 };
  const token: JsonObject = request.clientToken !== undefined ? { clientToken: request.clientToken } : {};
  const requested: JsonObject = {};
  const requestedMeta: JsonObject = {};
  for (const section of ['desired', 'reported'] as const) {
    const patch = request[section];
    if (patch === undefined) continue;
    requested[section] = patch;
    requestedMeta[section] = patch === null ? null : stamp(patch, timestamp);
  }
  const accepted: JsonObject = { state: requested, metadata: requestedMeta, version: stored.version, timestamp, ...token };
  const documents: JsonObject = {
    ...(exists ? { previous: { state: sectionsOf(current), metadata: metadataOf(current), version: currentVersion } } : {}),
    current: { state: sectionsOf(stored), metadata: metadataOf(stored), version: stored.version },
    timestamp,
    ...token,
  };
  const difference = request.desired !== undefined ? deltaOf(state.desired, state.reported) : undefined;
  const delta: JsonObject | undefined =
    difference === undefined ? undefined : { version: stored.version, timestamp, state: difference, metadata: pick(metadata.desired, difference), ...token };
  return { stored, accepted, documents, ...(delta ? { delta } : {}) };
}

/** `/get/accepted` (and GetThingShadow): the whole document with its delta; 404 when there is none. */
export function getDocument(current: StoredShadow | undefined, thingName: string, timestamp: number, clientToken?: string): JsonObject {
  if (current?.state === undefined) throw new ShadowError(404, `No shadow exists with name: '${thingName}'`);
  const delta = deltaOf(current.state.desired, current.state.reported);
  return {
    state: { ...sectionsOf(current), ...(delta ? { delta } : {}) },
    metadata: metadataOf(current),
    version: current.version,
    timestamp,
    ...(clientToken !== undefined ? { clientToken } : {}),
  };
}

/** Deletes the document, keeping its version; 404 when there is none. */
export function deleteDocument(current: StoredShadow | undefined, thingName: string, timestamp: number, clientToken?: string): { stored: StoredShadow; accepted: JsonObject } {
  if (current?.state === undefined) throw new ShadowError(404, `No shadow exists with name: '${thingName}'`);
  return { stored: { version: current.version }, accepted: { version: current.version, timestamp, ...(clientToken !== undefined ? { clientToken } : {}) } };
}

/** AWS's error response document. */
export function errorDocument(error: ShadowError, timestamp: number, clientToken?: string): JsonObject {
  return { code: error.code, message: error.message, timestamp, ...(clientToken !== undefined ? { clientToken } : {}) };
}
