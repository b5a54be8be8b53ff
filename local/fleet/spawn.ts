import { fork } from 'node:child_process';
import type { FleetProgress, FleetJob } from './job.js';
import type { FleetRun } from './outcome.js';

export class FleetChildFailed extends Error {
  override name = 'FleetChildFailed';
}

type ChildMessage =
  | { type: 'enrolled' }
  | { type: 'progress'; done: number; failed: number }   | { type: 'done'; run: FleetRun }
  | { type: 'error'; message: string };

/** Runs the job in a child process (TypeScript through tsx's loader), forwarding progress. */
export function runFleetJobInChild(job: FleetJob, report: FleetProgress): Promise<FleetRun> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./child.ts', import.meta.url), [], {
      // A larger young generation: a fleet allocates many short-lived objects per device, and
      // fewer scavenges cost less CPU (and p99) than the memory they save. One V8 helper thread:
      // on two cores, more only compete with the threads doing the work.
      execArgv: ['--max-semi-space-size=32', '--v8-pool-size=1', '--import', import.meta.resolve('tsx')],
      // Two libuv workers (file creation and renames, key generation) rather than four, likewise.
      env: { ...process.env, UV_THREADPOOL_SIZE: '2' },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    // The fleet ends with this process, however it ends (an exit after Ctrl-C or SIGTERM included).
    const stopChild = (): void => {
      child.kill();
    };
    process.once('exit', stopChild);
    let result: FleetRun | undefined;
    let failure: string | undefined;
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'enrolled') report.enrolled();
      else if (message.type === 'progress') report.progress(message.done, message.failed);
      else if (message.type === 'done') result = message.run;
      else failure = message.message;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('exit', stopChild);
      if (result) resolve(result);
      else reject(new FleetChildFailed(failure ?? `the fleet process ended (${signal ?? `exit code ${code ?? '?'}`}) without a result`));
    });
    child.send({ job });
  });
}
