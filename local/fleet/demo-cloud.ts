import { join } from 'node:path';
import { DEFAULT_REGIONS, type LocalCloud, startLocalCloud } from '../cloud.js';
import { deploymentRegions, type LocalDeployment, warnUnusedSettings } from '../deployment-config.js';
import type { Logger } from '../log.js';
import { defaultProductConfig, productWiring } from '../product.js';

/**
 * The measured-choice margin of the demo's own configuration when regions are delayed: half the
 * largest delay. On one busy machine a handshake's time varies by tens of milliseconds from CPU
 * queueing alone, noise a real network's 5 ms margin is not meant to absorb; a device then moves
 * only for a delay, not for a busy moment. A `--config` file's margin is used as written.
 */
export function demoMarginMs(regionDelaysMs: Readonly<Record<string, number>>): number {
  return Math.floor(Math.max(0, ...Object.values(regionDelaysMs)) / 2);
}

/**
 * The local cloud as the fleet demo and the fleet benchmark run it: demo mode (simulated source
 * addresses allowed), the real bootstrap, hook and confirmation, files under `workDir`.
 */
export function startDemoCloud(options: {
  workDir: string;
  log: Logger;
  regions?: readonly string[];
  deployment?: LocalDeployment;
  /** Region -> ms each handshake to it waits (`--region-delay`). */
  regionDelaysMs?: Readonly<Record<string, number>>;
}): Promise<LocalCloud> {
  const { deployment } = options;
  if (deployment) warnUnusedSettings(deployment.config, options.log);
  const regions = deployment ? deploymentRegions(deployment.config) : options.regions;
  const delays = options.regionDelaysMs ?? {};
  const config =
    deployment?.config ??
    (Object.keys(delays).length > 0 ? defaultProductConfig(options.regions ?? DEFAULT_REGIONS, { measuredChoice: { marginMs: demoMarginMs(delays) } }) : undefined);
  return startLocalCloud({
    ...(regions ? { regions } : {}),
    demo: true,
    ...(options.regionDelaysMs ? { regionDelaysMs: options.regionDelaysMs } : {}),
    // dynalite on the cloud's thread: with the product's functions on their own thread, one
    // more busy thread on two cores cost more than it spread (two paired runs: p99 1.35/1.48 s
    // against 1.91/1.76 s, CPU per device 21-22 ms against 23-25 ms).
    dynamoThread: false,
    pkiDir: options.workDir,
    // CreateKeysAndCertificate with EC keys: AWS makes RSA 2048, which costs ~150 ms of CPU each.
    deviceKeyAlgorithm: 'ec-p256',
    log: options.log,
    // The product's functions on a thread of their own, as they are services of their own deployed.
    wire: productWiring({
      keysDir: join(options.workDir, 'keys'),
      log: options.log,
      functionsThread: true,
      ...(config ? { config } : {}),
      ...(deployment ? { fleetPublicKeys: deployment.fleetPublicKeys } : {}),
    }),
  });
}
