import { ConditionalCheckFailedException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { AdmissionSettings } from '../config.js';
import { throwAsDependencyError } from '../dynamo-errors.js';
import { DependencyUnavailable } from '../errors.js';
import type { AdmissionDeps } from './limiter.js';
import { ADMISSION_KEY, ADMISSION_QUEUE_TAIL_ATTRIBUTE, ADMISSION_TTL_ATTRIBUTE, admissionLineKey } from './table.js';

/**
 * Places in line, shared by every bootstrap instance: each region keeps, per line, one item
 * holding the end of the line (`tail_ms`, epoch ms). Taking a place moves the end `1 / ceiling`
 * of a second on, so places follow at the rate the ceiling means; a line whose end is behind its
 * earliest start begins again there. One conditional UpdateItem per place (two when the line
 * starts again and instances race): join behind `tail_ms` while it is ahead, or start the line
 * when the item is missing or behind.
 *
 * Two lines a region:
 * - `retry`: a refused device's place, which sets its Retry-After. The refused devices of a
 *   burst come back `ceiling` a second, as many as that second admits, and a device refused later
 *   goes behind the seconds already given out. The line starts at the next second.
 * - `release`: when an admitted device calls RegisterThing (its answer's `registerAt`). The
 *   limiter bounds each calendar second, but a busy service finishes the answers of several
 *   seconds' admissions at once, and devices take unequal times to connect and ask for a
 *   certificate; times a place apart keep their RegisterThing calls at the ceiling's rate
 *   whenever their answers are ready. The line starts at the caller's lead (the usual time a
 *   device needs before RegisterThing).
 */

/** Joins or starts races between bootstrap instances this many times before giving up. */
const MAX_LINE_TRIES = 4;

export type LineSettings = Pick<AdmissionSettings, 'tableName' | 'counterTtlSeconds'>;

async function conditionalUpdate(deps: AdmissionDeps, input: ConstructorParameters<typeof UpdateItemCommand>[0]): Promise<number | undefined> {
  try {
    const out = await deps.client.send(new UpdateItemCommand({ ...input, ReturnValues: 'UPDATED_NEW' }));
    const tail = Number(out.Attributes?.[ADMISSION_QUEUE_TAIL_ATTRIBUTE]?.N);
    if (!Number.isFinite(tail)) throw new DependencyUnavailable('DynamoDB answered no end of line');
    return tail;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    return throwAsDependencyError(error);
  }
}

/** Takes the next place (epoch ms) in `region`'s `line`, no earlier than `earliestMs`. */
export async function takePlace(
  deps: AdmissionDeps,
  settings: LineSettings,
  region: string,
  line: 'retry' | 'release',
  ceiling: number,
  earliestMs: number,
): Promise<number> {
  const spacing = 1000 / ceiling;
  const expires = Math.floor(deps.now() / 1000) + settings.counterTtlSeconds;
  const common = {
    TableName: settings.tableName,
    Key: { [ADMISSION_KEY]: { S: admissionLineKey(region, line) } },
    ExpressionAttributeNames: { '#tail': ADMISSION_QUEUE_TAIL_ATTRIBUTE, '#expires': ADMISSION_TTL_ATTRIBUTE },
  };
  const values = { ':earliest': { N: String(earliestMs) }, ':expires': { N: String(expires) } };
  for (let i = 0; i < MAX_LINE_TRIES; i++) {
    const joined = await conditionalUpdate(deps, {
      ...common,
      UpdateExpression: 'SET #tail = #tail + :spacing, #expires = :expires',
      ConditionExpression: '#tail >= :earliest',
      ExpressionAttributeValues: { ...values, ':spacing': { N: String(spacing) } },
    });
    if (joined !== undefined) return joined - spacing;
    const started = await conditionalUpdate(deps, {
      ...common,
      UpdateExpression: 'SET #tail = :tail, #expires = :expires',
      ConditionExpression: 'attribute_not_exists(#tail) OR #tail < :earliest',
      ExpressionAttributeValues: { ...values, ':tail': { N: String(earliestMs + spacing) } },
    });
    if (started !== undefined) return earliestMs;
  }
  throw new DependencyUnavailable(`the admission line ${line} of ${region} kept changing under ${MAX_LINE_TRIES} tries`);
}

/**
 * A refused device's place in its region's retry line, as the seconds to wait for it (its
 * Retry-After): whole seconds (HTTP), at least 1, at most `maxRetryAfterSeconds`. A place beyond
 * that is still taken; the device asks again when told, and is refused and placed again.
 */
export async function queueForRetry(
  deps: AdmissionDeps,
  settings: LineSettings & Pick<AdmissionSettings, 'maxRetryAfterSeconds'>,
  region: string,
  ceiling: number,
): Promise<number> {
  const second = Math.floor(deps.now() / 1000);
  const place = await takePlace(deps, settings, region, 'retry', ceiling, (second + 1) * 1000);
  return Math.min(settings.maxRetryAfterSeconds, Math.max(1, Math.floor(place / 1000) - second));
}
