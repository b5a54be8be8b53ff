import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { AdmissionSettings } from '../config.js';
import { throwAsDependencyError } from '../dynamo-errors.js';
import { DependencyUnavailable } from '../errors.js';
import { queueForRetry } from './retry-queue.js';
import { ADMISSION_COUNT_ATTRIBUTE, ADMISSION_KEY, ADMISSION_TTL_ATTRIBUTE, admissionCounterKey } from './table.js';

/**
 * Quota-aware admission: keeps each region's rate of new assignments under a ceiling that every
 * bootstrap instance shares, so a factory burst or a fleet coming back after an outage does not
 * run into AWS's RegisterThing quota (10 per second per account and region by default) and fail
 * with throttling.
 *
 * One atomic DynamoDB UpdateItem per attempt: `ADD attempts 1` on the counter of (region,
 * current second), returning the new value. Concurrent attempts each get a distinct value, and
 * exactly those numbered up to the ceiling are admitted: never more than the ceiling in a second,
 * across every Lambda instance, with no read and no condition (a failed conditional write costs
 * the same write and would not say how far over the ceiling the second is). A refused device is
 * given a place in its region's queue, which sets its Retry-After (retry-queue.ts). A second is the caller's
 * clock's second; instances' clocks agree to well under one.
 *
 * One item takes every attempt of its region's second, and DynamoDB serves at most 1,000 writes
 * a second to one item: past that, the write is throttled and the bootstrap answers 429 as for
 * any DynamoDB throttling. The HTTP API's own rate limit should stay under that.
 */

export interface AdmissionDeps {
  readonly client: DynamoDBClient;
  /** ms since the epoch. */
  readonly now: () => number;
}

export type AdmissionSettingsInput = Pick<
  AdmissionSettings,
  | 'enabled'
  | 'tableName'
  | 'registerThingQuotaTps'
  | 'regionQuotaTps'
  | 'safetyFactor'
  | 'overflow'
  | 'overflowRegions'
  | 'maxRetryAfterSeconds'
  | 'counterTtlSeconds'
>;

export interface RegionAdmission {
  readonly region: string;
  readonly admitted: boolean;
  /** The epoch second counted in. */
  readonly second: number;
  /** This attempt's number in its region's second. */
  readonly count: number;
  readonly ceiling: number;
}

export type Admission =
  | {
      readonly admitted: true;
      readonly region: string;
      readonly overflowedFrom: readonly string[];
      /** The counted attempt that admitted it (absent when admission is off). */
      readonly slot?: RegionAdmission;
    }
  | { readonly admitted: false; readonly retryAfterSeconds: number; readonly refused: readonly RegionAdmission[] };

/** New assignments a region takes per second: its RegisterThing quota times the safety factor, at least 1. */
export function admissionCeiling(settings: Pick<AdmissionSettings, 'registerThingQuotaTps' | 'regionQuotaTps' | 'safetyFactor'>, region: string): number {
  const quota = settings.regionQuotaTps[region] ?? settings.registerThingQuotaTps;
  // The tiny allowance keeps 10 x 0.7 (6.999999999999999) at 7.
  return Math.max(1, Math.floor(quota * settings.safetyFactor + 1e-9));
}

/** Counts one attempt at `region` in the current second and says whether it is admitted. */
export async function tryAdmit(deps: AdmissionDeps, settings: AdmissionSettingsInput, region: string): Promise<RegionAdmission> {
  const second = Math.floor(deps.now() / 1000);
  const ceiling = admissionCeiling(settings, region);
  let raw: string | undefined;
  try {
    const out = await deps.client.send(
      new UpdateItemCommand({
        TableName: settings.tableName,
        Key: { [ADMISSION_KEY]: { S: admissionCounterKey(region, second) } },
        UpdateExpression: 'ADD #count :one SET #expires = :expires',
        ExpressionAttributeNames: { '#count': ADMISSION_COUNT_ATTRIBUTE, '#expires': ADMISSION_TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':one': { N: '1' }, ':expires': { N: String(second + settings.counterTtlSeconds) } },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    raw = out.Attributes?.[ADMISSION_COUNT_ATTRIBUTE]?.N;
  } catch (error) {
    throwAsDependencyError(error);
  }
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1) throw new DependencyUnavailable(`DynamoDB answered no counter for ${region}`);
  if (count <= ceiling) return { region, admitted: true, second, count, ceiling };
  return { region, admitted: false, second, count, ceiling };
}

/**
 * Admits a device into the first of `candidates` with room this second. `candidates` are the
 * regions the device may be sent to, best first, already cut down by residency and draining (the
 * chooser's region, then its fallbacks); pass only the chooser's region where the device must not
 * move (pinned, or resuming in its region). With `overflow: 'retry-after'` only the first is
 * tried; with `next-region`, up to `overflowRegions` more. Refused everywhere: a place in the
 * first region's queue (the one the device asks for first when it comes back), and its wait.
 */
export async function admit(deps: AdmissionDeps, settings: AdmissionSettingsInput, candidates: readonly string[]): Promise<Admission> {
  const first = candidates[0];
  if (first === undefined) throw new RangeError('admit needs at least one candidate region');
  if (!settings.enabled) return { admitted: true, region: first, overflowedFrom: [] };
  const tries = candidates.slice(0, settings.overflow === 'next-region' ? 1 + settings.overflowRegions : 1);
  const refused: RegionAdmission[] = [];
  for (const region of tries) {
    const outcome = await tryAdmit(deps, settings, region);
    if (outcome.admitted) return { admitted: true, region, overflowedFrom: refused.map((r) => r.region), slot: outcome };
    refused.push(outcome);
  }
  const retryAfter = await queueForRetry(deps, settings, first, admissionCeiling(settings, first));
  return { admitted: false, retryAfterSeconds: retryAfter, refused };
}
