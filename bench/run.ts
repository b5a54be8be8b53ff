/**
 * `npm run bench`: runs every benchmark in turn (one process, nothing else running), writes
 * bench/results/latest.json (machine-readable, for comparing runs) and bench/results/latest.md
 * (a table), and prints the table. Each figure names the command that reproduces it alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

interface Suite {
  name: string;
  command: string;
  run: () => Promise<Record<string, number>>;
}

const suites: Suite[] = [
  { name: 'geolocation', command: 'npx tsx bench/geo.ts', run: async () => (await import('./geo.js')).benchGeo() },
  { name: 'region', command: 'npx tsx bench/region.ts', run: async () => (await import('./region.js')).benchRegion() },
  { name: 'bootstrap', command: 'npx tsx bench/bootstrap.ts', run: async () => (await import('./bootstrap.js')).benchBootstrap() },
  { name: 'hook', command: 'npx tsx bench/hook.ts', run: async () => (await import('./hook.js')).benchHook() },
  { name: 'bundles', command: 'npx tsx bench/bundles.ts', run: async () => (await import('./bundles.js')).benchBundles() },
  { name: 'ops', command: 'npx tsx bench/ops.ts', run: async () => (await import('./ops.js')).benchOps() },
  { name: 'dynamodb', command: 'npx tsx bench/dynamodb.ts', run: async () => (await import('./dynamodb.js')).benchDynamodb() },
  { name: 'tls', command: 'npx tsx bench/tls.ts', run: async () => (await import('./tls.js')).benchTls() },
  { name: 'device', command: 'npx tsx bench/device.ts', run: async () => (await import('./device.js')).benchDevice() },
  { name: 'device-package', command: 'npx tsx bench/device-package.ts', run: async () => (await import('./device-package.js')).benchDevicePackage() },
  { name: 'fleet', command: 'npx tsx bench/fleet.ts', run: async () => (await import('./fleet.js')).benchFleet() },
  { name: 'drain', command: 'npx tsx bench/drain.ts', run: async () => (await import('./drain.js')).benchDrain() },
  { name: 'burst', command: 'npx tsx bench/burst.ts', run: async () => (await import('./burst.js')).benchBurst() },
  { name: 'reliability', command: 'npx tsx bench/reliability.ts', run: async () => (await import('./reliability.js')).benchReliability() },
];

/** Every figure is named `<suite>.<figure>`, so runs can be compared key by key. */
function qualified(suite: string, figures: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [k.startsWith(`${suite}.`) ? k : `${suite}.${k}`, v]));
}

const only = process.argv.slice(2);
const results: { suite: string; command: string; figures: Record<string, number> }[] = [];
for (const suite of suites) {
  if (only.length > 0 && !only.includes(suite.name)) continue;
  process.stderr.write(`bench: ${suite.name} ...\n`);
  results.push({ suite: suite.name, command: suite.command, figures: qualified(suite.name, await suite.run()) });
}

const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30) };
const lines = ['| figure | value | reproduce |', '|---|---|---|'];
for (const r of results) for (const [k, v] of Object.entries(r.figures)) lines.push(`| ${k} | ${v} | \`${r.command}\` |`);
const table = lines.join('\n');
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latest.json', `${JSON.stringify({ at: new Date().toISOString(), machine, results }, null, 2)}\n`);
writeFileSync('bench/results/latest.md', `# Benchmark results\n\n${new Date().toISOString()}, Node ${machine.node}, ${machine.cpus} x ${machine.cpuModel}\n\n${table}\n`);
console.log(table);
process.exit(0);
