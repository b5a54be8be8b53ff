import type { DeploymentConfig } from '@global-iot/core/config.js';
import { ConditionFailed } from '@global-iot/core/errors.js';
import { compileRegionPolicy, NoEligibleRegion, PinnedRegionNotEnabled, type RegionChooser } from '@global-iot/core/region-choice.js';
import { greatCircleKm, getRegion } from '@global-iot/core/regions.js';
import type { DeviceRecord, DeviceRegistry } from '@global-iot/core/registry/index.js';
import {
  canonicalRequestBytes,
  legacyRequestBytes,
  parsePublicKey,
  type VerificationKey,
  verifySignature,
} from '@global-iot/core/signing.js';
import { issueTicket, type TicketSigner } from '@global-iot/core/ticket.js';
import {
  AlreadyProvisioned,
  Conflict,
  DeviceBlocked,
  LegacySignatureRefused,
  MethodNotAllowed,
  NoRegionAvailable,
  ReplayedRequest,
  RequestExpired,
  ServiceUnavailable,
  Unauthorized,
} from './errors.js';
import type { InboundRequest } from './event.js';
import { geolocate, type GeolocateDeps, type Location } from './geolocate.js';
import { type BootstrapRequest, parseBootstrapBody } from './request.js';

export interface BootstrapDeps {
  config: DeploymentConfig;
  registry: DeviceRegistry;
  /** Fleet public keys (several during a rotation); a per-device key on the record wins. */
  fleetKeys: readonly VerificationKey[];
  signer: TicketSigner;
  resolveEndpoint: (region: string) => Promise<string>;
  geo: GeolocateDeps;
  /** Regions operators drained at run time (cached by the caller). */
  drainingRegions: () => Promise<readonly string[]>;
  /** Region choice for a set of draining regions; see `regionSelector`. */
  chooser: (draining: readonly string[]) => RegionChooser;
  now: () => number;
}

export interface BootstrapAnswer {
  status: 'success';
  endpointAddress: string;
  region: string;
  /** Great-circle km from the caller's location to the region; null when the location is unknown. */
  distance: number | null;
  templateName: string;
  ticket: string;
  ticketExpiresAt: string;
  fallbacks: { region: string; endpointAddress: string }[];
}

/** What the request log line records about a decision (nothing secret). */
export interface BootstrapTrace {
  thing?: string;
  region?: string;
  reason?: string;
  geoSource?: Location['source'] | 'none';
  /** The issued ticket's id and the id of the key that signed it (never the ticket). */
  ticketId?: string;
  ticketKid?: string;
}

/**
 * Compiles the region policy once per distinct set of drained regions: the static part comes
 * from the deployment config, the dynamic part from `ops regions drain`.
 */
export function regionSelector(config: DeploymentConfig): (draining: readonly string[]) => RegionChooser {
  const compiled = new Map<string, RegionChooser>();
  return (draining) => {
    const all = [...new Set([...config.draining, ...draining.filter((r) => config.regions.includes(r))])].sort();
    const key = all.join(',');
    let chooser = compiled.get(key);
    if (!chooser) {
      chooser = compileRegionPolicy({
        enabled: config.regions,
        defaultRegion: config.defaultRegion,
        draining: all,
        residency: config.residency,
        fallbackCount: config.fallbackCount,
      });
      compiled.set(key, chooser);
    }
    return chooser;
  };
}

/** Caches a slow-changing async value for `ttlMs`; a failed refresh keeps the last value. */
export function cachedValue<T>(load: () => Promise<T>, initial: T, ttlMs: number, now: () => number): () => Promise<T> {
  let value = initial;
  let loadedAt = -Infinity;
  let pending: Promise<T> | undefined;
  return async () => {
    if (now() - loadedAt < ttlMs) return value;
    pending ??= load()
      .then((fresh) => {
        value = fresh;
        loadedAt = now();
        return fresh;
      })
      .catch(() => value)
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}

function verifyAgainst(keys: readonly VerificationKey[], data: Buffer, signature: Buffer): boolean {
  return keys.some((key) => verifySignature(key, data, signature));
}

/**
 * The keys a request may be verified with. The original sample's format is RSA PKCS#1 v1.5 with
 * SHA-256 and nothing else: a bare-name signature made with an EC or Ed25519 key is no legacy
 * request, and accepting one would widen the replayable format to every key type.
 */
function keysForFormat(keys: readonly VerificationKey[], legacy: boolean): readonly VerificationKey[] {
  return legacy ? keys.filter((key) => key.algorithm === 'rsa-pkcs1-sha256') : keys;
}

function deviceKeys(record: DeviceRecord, fleetKeys: readonly VerificationKey[]): readonly VerificationKey[] {
  if (!record.public_key) return fleetKeys;
  try {
    return [parsePublicKey(record.public_key)];
  } catch {
    // A record with an unusable key cannot authenticate; the operator sees it in `ops status`.
    return [];
  }
}

/**
 * Authenticates the request. Every failure up to and including the signature check is the same
 * 401, and an unknown device still costs one verification, so neither the answer nor its
 * timing tells a caller which thing names exist.
 */
async function authenticate(
  request: BootstrapRequest,
  deps: BootstrapDeps,
): Promise<DeviceRecord> {
  const thingName = request['thing-name'];
  const timestamp = request.timestamp;
  if (timestamp === undefined && !deps.config.legacySignatures) {
    throw new LegacySignatureRefused('this deployment requires signed timestamps (see the request format in the README)');
  }
  if (timestamp !== undefined && Math.abs(deps.now() - timestamp) > deps.config.timestampSkewSeconds * 1000) {
    throw new RequestExpired(`timestamp is outside the accepted window of ${deps.config.timestampSkewSeconds} s`);
  }
  const legacy = timestamp === undefined;
  const signedBytes = legacy ? legacyRequestBytes(thingName) : canonicalRequestBytes(thingName, timestamp);
  const signature = Buffer.from(request['thing-name-sig'], 'base64');
  const record = await deps.registry.get(thingName);
  const keys = record ? keysForFormat(deviceKeys(record, deps.fleetKeys), legacy) : [];
  if (!record || keys.length === 0) {
    // As costly as a real check, whether the device is unknown or has no key for this format.
    verifyAgainst(deps.fleetKeys.slice(0, 1), signedBytes, signature);
    throw new Unauthorized();
  }
  if (!verifyAgainst(keys, signedBytes, signature)) throw new Unauthorized();
  return record;
}

function chooseRegion(
  record: DeviceRecord,
  request: BootstrapRequest,
  location: Location | undefined,
  chooser: RegionChooser,
): { region: string; distance: number | null; reason: string; fallbacks: string[] } {
  const distanceTo = (region: string): number | null =>
    location ? Math.round(greatCircleKm(location, getRegion(region))) : null;
  // A device the hook already let through stays in its region: its thing and certificate may
  // exist there, and moving it would leave them orphaned.
  if (record.prov_status === 'provisioning' && record.aws_region) {
    return { region: record.aws_region, distance: distanceTo(record.aws_region), reason: 'resume', fallbacks: [] };
  }
  try {
    const choice = chooser.choose({
      ...(location ? { location } : {}),
      ...(record.pinned_region ? { pinnedRegion: record.pinned_region } : {}),
      ...(request['preferred-region'] ? { preferredRegion: request['preferred-region'] } : {}),
    });
    return { region: choice.region, distance: choice.distanceKm ?? distanceTo(choice.region), reason: choice.reason, fallbacks: choice.fallbacks };
  } catch (error) {
    if (error instanceof NoEligibleRegion || error instanceof PinnedRegionNotEnabled) {
      throw new NoRegionAvailable(`no region can take this device now: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * How many times the assignment is decided again when another writer (the hook, an operator)
 * changed the record between this request's read and its conditional write.
 */
const MAX_ASSIGN_ATTEMPTS = 3;

/** The record's state refuses this request: provisioned, blocked, or an old timestamp. */
function refuseByState(record: DeviceRecord, timestamp: number | undefined): void {
  if (record.prov_status === 'provisioned') throw new AlreadyProvisioned('this device is already provisioned');
  if (record.prov_status === 'blocked') throw new DeviceBlocked('this device is blocked by an operator');
  if (timestamp !== undefined && record.last_request_ts !== undefined && timestamp <= record.last_request_ts) {
    throw new ReplayedRequest('timestamp is not newer than the last accepted request');
  }
}

/**
 * The bootstrap decision: authenticate, check the registry state, locate the caller, choose the
 * region, issue the ticket and record the assignment in one conditional write. When the write
 * loses to another writer, the decision is made again on the fresh record (a device the hook
 * just let through stays in its region), so a legitimate retry is not answered with a conflict.
 */
export async function bootstrap(inbound: InboundRequest, deps: BootstrapDeps, trace: BootstrapTrace = {}): Promise<BootstrapAnswer> {
  if (inbound.method !== 'POST') throw new MethodNotAllowed('use POST');
  const request = parseBootstrapBody(inbound.body, inbound.isBase64Encoded);
  trace.thing = request['thing-name'];
  let record = await authenticate(request, deps);
  const timestamp = request.timestamp;
  refuseByState(record, timestamp);

  const location = await geolocate(inbound, deps.geo);
  trace.geoSource = location?.source ?? 'none';
  const chooser = deps.chooser(await deps.drainingRegions());

  for (let attempt = 1; ; attempt++) {
    const choice = chooseRegion(record, request, location, chooser);
    trace.region = choice.region;
    trace.reason = choice.reason;
    let issued;
    try {
      issued = await issueTicket(deps.signer, {
        thingName: record.thing_name,
        region: choice.region,
        ttlSeconds: deps.config.ticketTtlSeconds,
        nowMs: deps.now(),
      });
    } catch (cause) {
      throw new ServiceUnavailable('the ticket signer is unavailable', 5, { cause });
    }
    trace.ticketId = issued.claims.jti;
    trace.ticketKid = issued.claims.kid;
    try {
      await deps.registry.assign({
        thingName: record.thing_name,
        expectedStatus: assignableStatus(record),
        region: choice.region,
        ...(timestamp !== undefined ? { requestTs: timestamp } : {}),
        sourceIp: inbound.sourceIp,
        ...(location?.country ? { country: location.country } : {}),
        ticketId: issued.claims.jti,
        ticketExpiresAt: issued.claims.exp * 1000,
      });
      return await answer(choice, issued, deps);
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      const fresh = await deps.registry.get(record.thing_name);
      if (!fresh) throw new Conflict('the device record changed during the request; retry');
      refuseByState(fresh, timestamp);
      if (attempt >= MAX_ASSIGN_ATTEMPTS) throw new Conflict('another request for this device changed its record; retry');
      record = fresh;
    }
  }
}

/** The statuses an assignment may start from; anything else was refused by `refuseByState`. */
function assignableStatus(record: DeviceRecord): 'unprovisioned' | 'assigned' | 'provisioning' {
  const status = record.prov_status;
  if (status === 'unprovisioned' || status === 'assigned' || status === 'provisioning') return status;
  throw new Conflict(`the device is ${status}`);
}

async function answer(
  choice: { region: string; distance: number | null; fallbacks: string[] },
  issued: { ticket: string; claims: { exp: number } },
  deps: BootstrapDeps,
): Promise<BootstrapAnswer> {
  // The chosen region's endpoint is required; a fallback whose endpoint cannot be resolved now
  // is left out rather than failing the whole answer.
  const [endpointAddress, fallbackEndpoints] = await Promise.all([
    deps.resolveEndpoint(choice.region),
    Promise.allSettled(choice.fallbacks.map((region) => deps.resolveEndpoint(region))),
  ]);
  const fallbacks: BootstrapAnswer['fallbacks'] = [];
  fallbackEndpoints.forEach((result, i) => {
    const region = choice.fallbacks[i];
    if (result.status === 'fulfilled' && region) fallbacks.push({ region, endpointAddress: result.value });
  });
  return {
    status: 'success',
    endpointAddress,
    region: choice.region,
    distance: choice.distance,
    templateName: deps.config.templateName,
    ticket: issued.ticket,
    ticketExpiresAt: new Date(issued.claims.exp * 1000).toISOString(),
    fallbacks,
  };
}
