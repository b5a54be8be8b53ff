import type { DeploymentConfig } from '@global-iot/core/config.js';
import { ConditionFailed } from '@global-iot/core/errors.js';
import { NoEligibleRegion, PinnedRegionNotEnabled, type RegionChooser } from '@global-iot/core/region-choice.js';
import type { DeviceRecord, DeviceRegistry, Placement } from '@global-iot/core/registry/index.js';
import {
  canonicalRequestBytes,
  canonicalRequestBytesV2,
  legacyRequestBytes,
  parsePublicKey,
  type VerificationKey,
  verifySignature,
} from '@global-iot/core/signing.js';
import { issueTicket, type TicketSigner } from '@global-iot/core/ticket.js';
import type { AdmissionDeps } from '@global-iot/core/admission/limiter.js';
import { type AdmissionOutcome, admitPlacement, type Admitted, registerSlot } from './admission.js';
import {
  AlreadyProvisioned,
  BadRequest,
  Conflict,
  DeviceBlocked,
  LegacySignatureRefused,
  MethodNotAllowed,
  MoveRefused,
  NoRegionAvailable,
  ReplayedRequest,
  RequestExpired,
  ServiceUnavailable,
  Unauthorized,
} from './errors.js';
import type { InboundRequest } from './event.js';
import { geolocate, type GeolocateDeps, type Location } from './geolocate.js';
import {
  fallbacksOf,
  MoveNotPlaceable,
  type MovePlacementInput,
  type Placed,
  type PlacementInput,
  placeDevice,
  placeMove,
} from '@global-iot/core/placement.js';
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
  /** Region choice for a set of draining regions; see `regionChooserFor` (core/region-policy.ts). */
  chooser: (draining: readonly string[]) => RegionChooser;
  /** The admission limiter's table client and clock (used when `config.admission.enabled`). */
  admission: AdmissionDeps;
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
  /**
   * The regions the device may measure (handshake times) and send figures for in a second
   * request: the answer's region and fallbacks when figures could change the choice, else the
   * region alone. Residency, pins and draining are already applied.
   */
  candidates: { region: string; endpointAddress: string }[];
  /** How the region was chosen (the registry's `placement`). */
  placement: Placement;
  /**
   * When to call RegisterThing (epoch ms, this service's clock) so that the region's new devices
   * reach AWS IoT evenly spaced under its quota; present when admission paces devices.
   */
  registerAt?: number;
  /** This service's clock (epoch ms) as it answered, for a device to tell how far its own clock is off. */
  serverTime?: number;
}

/** What the request log line records about a decision (nothing secret). */
export interface BootstrapTrace {
  thing?: string;
  region?: string;
  reason?: string;
  geoSource?: Location['source'] | 'none';
  placement?: Placement;
  /** How many figures the request carried. */
  measurements?: number;
  admission?: AdmissionOutcome;
  /** The issued ticket's id and the id of the key that signed it (never the ticket). */
  ticketId?: string;
  ticketKid?: string;
  /** The RegisterThing time the answer gave (epoch ms), with pacing. */
  registerAt?: number;
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
  if (legacy && request.measurements !== undefined) throw new BadRequest('measurements need a timestamp (signed as iot-bootstrap-v2)');
  const signedBytes = legacy
    ? legacyRequestBytes(thingName)
    : request.measurements === undefined
      ? canonicalRequestBytes(thingName, timestamp)
      : canonicalRequestBytesV2(thingName, timestamp, request.measurements);
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
 * region (for a device an operator asked to move, the move's region: `placeMove`), issue the
 * ticket and record the assignment in one conditional write (a move's as `move_region`; the
 * device keeps running in its region until it confirms in the new one). When the write
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
  const draining = await deps.drainingRegions();
  const chooser = deps.chooser(draining);
  const drainingNow = new Set([...deps.config.draining, ...draining]);
  trace.measurements = request.measurements?.length ?? 0;

  // A region admitted by an earlier pass of this loop is not counted again.
  let admittedHere: string | undefined;
  for (let attempt = 1; ; attempt++) {
    const placed =
      record.prov_status === 'moving'
        ? placeMoveOr409({ record, location, chooser, enabled: deps.config.regions, draining: drainingNow, residency: deps.config.residency })
        : placeOr503({
            record,
            location,
            chooser,
            ...(request['preferred-region'] ? { preferredRegion: request['preferred-region'] } : {}),
            ...(request.measurements ? { measurements: request.measurements } : {}),
            draining: drainingNow,
            margin: { ms: deps.config.measuredChoice.marginMs, ratio: deps.config.measuredChoice.marginRatio },
          });
    const admitted: Admitted =
      placed.region === admittedHere
        ? { placed, outcome: 'held' }
        : await admitPlacement(deps.admission, deps.config.admission, placed, record, location);
    const choice = admitted.placed;
    admittedHere = choice.region;
    trace.region = choice.region;
    trace.reason = choice.reason;
    trace.placement = choice.placement;
    trace.admission = admitted.outcome;
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
      const writeStarted = deps.now();
      await deps.registry.assign({
        thingName: record.thing_name,
        expectedStatus: assignableStatus(record),
        region: choice.region,
        ...(timestamp !== undefined ? { requestTs: timestamp } : {}),
        sourceIp: inbound.sourceIp,
        ...(location?.country ? { country: location.country } : {}),
        ticketId: issued.claims.jti,
        ticketExpiresAt: issued.claims.exp * 1000,
        placement: choice.placement,
        ...(choice.rttMs ? { rttMs: choice.rttMs } : {}),
      });
      const slot = await registerSlot(deps.admission, deps.config.admission, admitted, deps.now() - writeStarted);
      const registerAt = slot === undefined ? undefined : Math.ceil(slot);
      if (registerAt !== undefined) trace.registerAt = registerAt;
      return await answer(choice, issued, registerAt, deps);
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

/** The placement; a policy that leaves this device no region is a 503. */
function placeOr503(input: PlacementInput): Placed {
  try {
    return placeDevice(input);
  } catch (error) {
    if (error instanceof NoEligibleRegion || error instanceof PinnedRegionNotEnabled) {
      throw new NoRegionAvailable(`no region can take this device now: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * A moving device's placement (core/placement.ts `placeMove`): the move's target, or the nearest
 * region other than its own. A move that cannot be placed is a 409 that names why; the device
 * keeps running in its region.
 */
function placeMoveOr409(input: MovePlacementInput): Placed {
  try {
    return placeMove(input);
  } catch (error) {
    if (error instanceof MoveNotPlaceable) throw new MoveRefused(`this device's move cannot be placed now (${error.reason}): ${error.message}`, { cause: error });
    throw error;
  }
}

/** The statuses an assignment may start from; anything else was refused by `refuseByState`. */
function assignableStatus(record: DeviceRecord): 'unprovisioned' | 'assigned' | 'provisioning' | 'moving' {
  const status = record.prov_status;
  if (status === 'unprovisioned' || status === 'assigned' || status === 'provisioning' || status === 'moving') return status;
  throw new Conflict(`the device is ${status}`);
}

/** Each region's endpoint; a region whose endpoint cannot be resolved now is left out. */
async function endpointsOf(regions: readonly string[], deps: BootstrapDeps): Promise<{ region: string; endpointAddress: string }[]> {
  const resolved = await Promise.allSettled(regions.map((region) => deps.resolveEndpoint(region)));
  return regions.flatMap((region, i) => {
    const result = resolved[i];
    return result?.status === 'fulfilled' ? [{ region, endpointAddress: result.value }] : [];
  });
}

async function answer(
  choice: Placed,
  issued: { ticket: string; claims: { exp: number } },
  registerAt: number | undefined,
  deps: BootstrapDeps,
): Promise<BootstrapAnswer> {
  // The chosen region's endpoint is required; a fallback or candidate whose endpoint cannot be
  // resolved now is left out rather than failing the whole answer.
  const others = [...new Set([...fallbacksOf(choice), ...choice.candidates])].filter((region) => region !== choice.region);
  const [endpointAddress, resolved] = await Promise.all([deps.resolveEndpoint(choice.region), endpointsOf(others, deps)]);
  const endpoints = new Map([[choice.region, endpointAddress], ...resolved.map((r): [string, string] => [r.region, r.endpointAddress])]);
  const listed = (regions: readonly string[]) =>
    regions.flatMap((region) => {
      const address = endpoints.get(region);
      return address === undefined ? [] : [{ region, endpointAddress: address }];
    });
  return {
    status: 'success',
    endpointAddress,
    region: choice.region,
    distance: choice.distance,
    templateName: deps.config.templateName,
    ticket: issued.ticket,
    ticketExpiresAt: new Date(issued.claims.exp * 1000).toISOString(),
    fallbacks: listed(fallbacksOf(choice)),
    candidates: listed(choice.candidates),
    placement: choice.placement,
    ...(registerAt === undefined ? {} : { registerAt, serverTime: deps.now() }),
  };
}
