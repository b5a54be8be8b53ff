import { createPrivateKey } from 'node:crypto';
import { type DeviceEnvironment, type DeviceResult, reconnect } from './device.js';
import { runFleet } from './fleet.js';
import type { ChildMessage, FleetJob, ParentMessage } from './fleet-process.js';

/**
 * The devices of a load run, in a process of their own: the local cloud (the system measured)
 * keeps its process, and the devices get the other core. In: one {job}, then {reboot} or {exit}.
 * Out: progress with the secrets handled since the last message (for the parent's log audit),
 * the results, and after a reboot how many devices connected again with their certificate.
 */

const PROGRESS_EVERY_MS = 100;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('the fleet child needs an IPC channel'));
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

function nextMessage(): Promise<ParentMessage> {
  return new Promise((resolve) => process.once('message', (message: ParentMessage) => resolve(message)));
}

async function serve(job: FleetJob): Promise<void> {
  let secrets: string[] = [];
  let lastSent = 0;
  const env: DeviceEnvironment = {
    bootstrapUrl: job.bootstrapUrl,
    ca: job.ca,
    claim: job.claim,
    fleetKey: createPrivateKey(job.fleetKeyPem),
    target: (region) => {
      const target = job.targets[region];
      if (!target) throw new Error(`no endpoint for ${region}`);
      return target;
    },
    onSecret: (secret) => secrets.push(secret),
  };
  const run = await runFleet(
    env,
    job.specs.map((spec) => ({ ...spec, keepCredentials: true })),
    {
      concurrency: job.concurrency,
      ...(job.limits ? { limits: job.limits } : {}),
      onProgress: (done) => {
        const now = Date.now();
        // Time-throttled, but every `progressEvery` devices too: the parent samples its memory
        // on those, and a fast run must not leave it too few samples.
        const boundary = job.progressEvery !== undefined && done % job.progressEvery === 0;
        if (now - lastSent < PROGRESS_EVERY_MS && done < job.specs.length && !boundary) return;
        lastSent = now;
        process.send?.({ type: 'progress', done, secrets } satisfies ChildMessage);
        secrets = [];
      },
    },
  );
  // The credentials stay here, with the devices; the trails of devices that went straight
  // through say nothing the figures do not.
  const byName = new Map<string, DeviceResult>(run.results.map((r) => [r.thingName, r]));
  const results = run.results.map(({ credentials: _kept, ...r }) => (r.ok && r.rounds === 1 ? { ...r, trail: [] } : r));
  await send({ type: 'done', results, wallMs: run.wallMs });
  for (;;) {
    const message = await nextMessage();
    if (message.type !== 'reboot') break;
    let connected = 0;
    for (const name of message.thingNames) {
      const result = byName.get(name);
      if (result && (await reconnect(env, result))) connected++;
    }
    await send({ type: 'rebooted', connected });
  }
}

const parentGone = (): never => process.exit(1);
process.once('disconnect', parentGone);
process.once('message', (message: ParentMessage) => {
  if (message.type !== 'job') return;
  serve(message.job).then(
    () => {
      process.off('disconnect', parentGone);
      process.exit(0);
    },
    (error: unknown) => {
      void send({ type: 'error', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }).finally(() => process.exit(1));
    },
  );
});
