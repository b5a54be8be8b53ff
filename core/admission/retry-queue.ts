import { ConditionalCheckFailedException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { AdmissionSettings } from '../config.js';
import { throwAsDependencyError } from '../dynamo-errors.js';
import { DependencyUnavailable } from '../errors.js';
import type { AdmissionDeps } from './limiter.js';
import { ADMISSION_KEY, ADMISSION_QUEUE_TAIL_ATTRIBUTE, ADMISSION_TTL_ATTRIBUTE, admissionQueueKey } from './table.js';

/**
 * When a refused device should come back: a place in its region's queue.
 *
 * Each region keeps one item, the end of its queue (`tail_ms`, epoch ms). A refused device takes
 * the next place, `1 / ceiling` of a second after the one before, and is told to come back in the
 * second its place falls in: the refused devices of a burst come back `ceiling` a second, as many
 * as that second admits, instead of all at once. The queue remembers the seconds already given
 * out, so a device refused later (a new arrival, or one that came back late) goes behind them,
 * not into a second that is already full. An empty queue, or one whose last place is past,
 * starts again at the next second.
 *
 * One UpdateItem per refusal (two when the queue starts, or restarts, and instances race), each
 * conditional on the queue's state: join behind `tail_ms` while it is still ahead, or start it
 * when it is missing or behind. A Retry-After is whole seconds (HTTP), at least 1, at most
 * `maxRetryAfterSeconds`; a place beyond that is still taken, and the device asks again when told
 * and is refused and queued again.
 */

/** Joins or starts races between bootstrap instances this many times before giving up. */
const MAX_QUEUE_TRIES = 4;

export type RetryQueueSettings = Pick<AdmissionSettings, 'tableName' | 'maxRetryAfterSeconds' | 'counterTtlSeconds'>;

async function conditionalUpdate(deps: AdmissionDeps, input: ConstructorParameters<typeof UpdateItemCommand>[0]): Promise<number | undefined> {
  try {
    const out = await deps.client.send(new UpdateItemCommand({ ...input, ReturnValues: 'UPDATED_NEW' }));
    const tail = Number(out.Attributes?.[ADMISSION_QUEUE_TAIL_ATTRIBUTE]?.N);
    if (!Number.isFinite(tail)) throw new DependencyUnavailable('DynamoDB answered no queue tail');
    return tail;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    return throwAsDependencyError(error);
  }
}

/** Takes a place in `region`'s queue and returns the seconds to wait for it (the Retry-After). */
export async function queueForRetry(deps: AdmissionDeps, settings: RetryQueueSettings, region: string, ceiling: number): Promise<number> {
  const now = deps.now();
  const second = Math.floor(now / 1000);
  const nextSecond = (second + 1) * 1000;
  const spacing = 1000 / ceiling;
  const common = {
    TableName: settings.tableName,
    Key: { [ADMISSION_KEY]: { S: admissionQueueKey(region) } },
    ExpressionAttributeNames: { '#tail': ADMISSION_QUEUE_TAIL_ATTRIBUTE, '#expires': ADMISSION_TTL_ATTRIBUTE },
  };
  const wait = (place: number): number => Math.min(settings.maxRetryAfterSeconds, Math.max(1, Math.floor(place / 1000) - second));
  for (let i = 0; i < MAX_QUEUE_TRIES; i++) {
    // Behind the devices already given a place, while the queue's end is still ahead.
    const joined = await conditionalUpdate(deps, {
      ...common,
      UpdateExpression: 'SET #tail = #tail + :spacing, #expires = :expires',
      ConditionExpression: '#tail >= :next',
      ExpressionAttributeValues: {
        ':spacing': { N: String(spacing) },
        ':next': { N: String(nextSecond) },
        ':expires': { N: String(second + settings.counterTtlSeconds) },
      },
    });
    if (joined !== undefined) return wait(joined - spacing);
    // No queue, or its last place is past: this device is the first of a new one.
    const started = await conditionalUpdate(deps, {
      ...common,
      UpdateExpression: 'SET #tail = :tail, #expires = :expires',
      ConditionExpression: 'attribute_not_exists(#tail) OR #tail < :next',
      ExpressionAttributeValues: {
        ':tail': { N: String(nextSecond + spacing) },
        ':next': { N: String(nextSecond) },
        ':expires': { N: String(second + settings.counterTtlSeconds) },
      },
    });
    if (started !== undefined) return wait(nextSecond);
  }
  throw new DependencyUnavailable(`the admission queue of ${region} kept changing under ${MAX_QUEUE_TRIES} tries`);
}
