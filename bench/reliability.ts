/**
 * Reliability benchmark (issue: reliability, security and performance). The load run of the
 * reliability suite: 10,000 devices, 100 at a time, through the product on the local cloud
 * (HTTPS bootstrap, MQTT over mutual TLS, CreateKeysAndCertificate and CreateCertificateFromCsr
 * half each, RegisterThing with the real hook, reconnection and confirmation), the devices in a
 * child process and the cloud in this one. Figures: throughput, end-to-end and per-step p50/p99,
 * retries, the integrity check (registry against every region), the cloud process's peak RSS and
 * heap after GC over the run, and the log audit. Then how long the bootstrap endpoint keeps a
 * client that sends its body a byte at a time.
 *
 *   npx tsx bench/reliability.ts [devices] [concurrency]
 */
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { startReliabilityCloud } from '../test/reliability/support/cloud.js';
import { trickle } from '../test/reliability/support/http.js';
import { loadFigures, runLoad } from '../test/reliability/support/load.js';
import { createLogAudit } from '../test/reliability/support/log-audit.js';
import { isMain, round } from './stats.js';

/** Seconds until the bootstrap endpoint closes a connection that trickles its body. */
async function slowBodyCutoffSeconds(): Promise<number> {
  const audit = createLogAudit();
  const rc = await startReliabilityCloud({ audit, demo: false });
  try {
    const url = new URL(rc.cloud.bootstrapUrl ?? '');
    const body = JSON.stringify(signedBootstrapRequest(rc.fleetKey, 'bench-slow-body', Date.now()));
    const request = `POST /bootstrap HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const outcome = await trickle({ host: '127.0.0.1', port: Number(url.port), servername: url.hostname, ca: rc.rootCa }, request, { intervalMs: 200, giveUpMs: 120_000 });
    return round(outcome.closedAfterMs / 1000, 1);
  } finally {
    await rc.close();
  }
}

export async function benchReliability(devices = 10_000, concurrency = 100): Promise<Record<string, number>> {
  let reported = 0;
  const report = await runLoad({
    devices,
    concurrency,
    onProgress: (done) => {
      if (done - reported < devices / 10 && done < devices) return;
      reported = done;
      process.stderr.write(`bench reliability: ${done}/${devices} devices\n`);
    },
  });
  if (report.failures.length > 0) process.stderr.write(`bench reliability: ${report.failed} devices failed, e.g. ${JSON.stringify(report.failures[0])}\n`);
  if (report.audit.problems.length > 0) process.stderr.write(`bench reliability: integrity problems, e.g. ${report.audit.problems.slice(0, 3).join('; ')}\n`);
  return { ...loadFigures(report), 'reliability.slow_body_cutoff_s': await slowBodyCutoffSeconds() };
}

if (isMain(import.meta.url)) {
  const [devices, concurrency] = process.argv.slice(2).map(Number);
  const figures = await benchReliability(devices || undefined, concurrency || undefined);
  for (const [name, value] of Object.entries(figures)) console.log(`${name.padEnd(48)} ${value}`);
  process.exit(0);
}
