/**
 * Bulk enrolment benchmark (issue: ops CLI). 10,000 devices enrolled against dynalite through the
 * client the CLI uses, then the same file again (every device found unchanged). Also the
 * validation of the 10,000 CSV rows the CLI does before writing, and the race-free
 * `--conditional` mode on 1,000 devices. Target: enrolment under 10 s. And what the CSV library
 * (csv-parse) costs: parsing the 10,000 rows alone, and the size of the built `iot-ops` bundle that
 * carries it.
 *
 *   npx tsx bench/ops.ts
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { getDynamoClient } from '@global-iot/core/aws-clients.js';
import { parseDeploymentConfig } from '@global-iot/core/config.js';
import { bulkEnroll, ensureRegistryTable } from '@global-iot/core/registry/index.js';
import { startDynalite } from '@global-iot/local/dynamodb.js';
import { parseCsv } from '@global-iot/ops/lib/csv.js';
import { readEnrollInput } from '@global-iot/ops/lib/enroll-input.js';
import { buildPackage } from '@global-iot/tools/build-package.js';
import { isMain, round, timeSync } from './stats.js';

const DEVICES = 10_000;

export async function benchOps(): Promise<Record<string, number>> {
  const dynamo = await startDynalite();
  const client = getDynamoClient({ region: 'us-east-1', endpoint: dynamo.endpoint, requestTimeoutMs: 5_000 });
  try {
    const tableName = `bench-ops-${randomBytes(4).toString('hex')}`;
    await ensureRegistryTable(client, tableName);
    const config = parseDeploymentConfig({ homeRegion: 'us-east-1', regions: ['us-east-1', 'eu-central-1'], defaultRegion: 'us-east-1', tableName });
    const csv = ['thing_name,pinned_region,attr.model', ...Array.from({ length: DEVICES }, (_, i) => `bench-${i},${i % 10 === 0 ? 'eu-central-1' : ''},m${i % 7}`)].join('\n');

    const parse = timeSync(() => parseCsv(csv), 20, 5);

    let start = performance.now();
    const input = readEnrollInput(csv, 'csv', config);
    const validateMs = performance.now() - start;
    if (input.valid.length !== DEVICES) throw new Error(`bench: ${input.invalid.length} rows invalid`);

    start = performance.now();
    const first = await bulkEnroll(input.valid, { client, tableName });
    const enrollMs = performance.now() - start;
    if (first.counts.created !== DEVICES) throw new Error(`bench: created ${first.counts.created} of ${DEVICES}`);

    start = performance.now();
    const again = await bulkEnroll(input.valid, { client, tableName });
    const rerunMs = performance.now() - start;
    if (again.counts.unchanged !== DEVICES) throw new Error(`bench: unchanged ${again.counts.unchanged} of ${DEVICES}`);

    // The race-free mode, a conditional put per new device, on a tenth of the devices.
    start = performance.now();
    const conditional = await bulkEnroll(
      input.valid.slice(0, DEVICES / 10).map((e) => ({ ...e, thingName: `cond-${e.thingName}` })),
      { client, tableName, conditional: true },
    );
    const conditionalMs = performance.now() - start;
    if (conditional.counts.created !== DEVICES / 10) throw new Error(`bench: conditional created ${conditional.counts.created}`);

    const opsDir = join(import.meta.dirname, '..', 'ops');
    await buildPackage(opsDir);
    const bundleKb = statSync(join(opsDir, 'dist', 'cli.js')).size / 1024;

    return {
      'ops csv parse of 10,000 rows, p50 (ms)': round(parse.p50 / 1000, 1),
      'ops csv validation of 10,000 rows (ms)': round(validateMs, 1),
      'ops bulk enrolment of 10,000 devices (ms)': round(enrollMs, 1),
      'ops bulk re-run, 10,000 unchanged (ms)': round(rerunMs, 1),
      'ops bulk enrolment rate (devices/s)': Math.round(DEVICES / (enrollMs / 1000)),
      'ops bulk enrolment --conditional of 1,000 devices (ms)': round(conditionalMs, 1),
      'ops iot-ops bundle, dist/cli.js (KB)': Math.round(bundleKb),
    };
  } finally {
    client.destroy();
    await dynamo.close();
  }
}

if (isMain(import.meta.url)) {
  console.log(await benchOps());
  process.exit(0);
}
