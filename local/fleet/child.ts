import { describeError } from '@global-iot/core/errors.js';
import { executeFleetJob, type FleetJob } from './job.js';

/**
 * The fleet's child process: receives one job over IPC, reports progress and the result, exits.
 * Messages: in {job}; out {type: 'enrolled'} | {type: 'progress', done, failed} | {type: 'done', run} |
 * {type: 'error', message}.
 */

function send(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('the fleet child must be started with an IPC channel'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

// A parent that goes away takes the fleet with it: nobody would read the result.
const parentGone = (): never => process.exit(1);
process.once('disconnect', parentGone);

async function serve(job: FleetJob): Promise<void> {
  let lastSent = 0;
  let run;
  try {
    run = await executeFleetJob(job, {
      enrolled: () => process.send?.({ type: 'enrolled' }),
      progress: (done, failed) => {
        // At most every 50 ms (and the last one): the parent redraws no faster anyway.
        const now = Date.now();
        if (now - lastSent < 50 && done < job.count) return;
        lastSent = now;
        process.send?.({ type: 'progress', done, failed });
      },
    });
  } catch (error) {
    await send({ type: 'error', message: describeError(error) });
    return;
  }
  await send({ type: 'done', run });
}

process.once('message', (message: { job: FleetJob }) => {
  // Once the result is delivered (send's callback ran), exit rather than wait for every native
  // handle of a thousand closed connections to be collected; exit 1 if it could not be.
  serve(message.job).then(
    () => {
      process.off('disconnect', parentGone);
      process.exit(0);
    },
    () => process.exit(1),
  );
});
