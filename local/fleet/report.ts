import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { geoGraticule10, geoNaturalEarth1, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import { getRegion, isIotRegion, REGION_CATALOGUE } from '@global-iot/core/regions.js';
import type { DrainResult } from './drain.js';
import type { FleetRun } from './outcome.js';
import type { FleetSummary } from './summary.js';

/**
 * The fleet report: one self-contained HTML page (no script, no external resource) with an
 * inline SVG world map (Natural Earth 1:110m countries from the world-atlas package, drawn with
 * d3-geo's Natural Earth projection), a dot per device coloured by the region it was provisioned
 * in, a line from each place to its region, the regions as labelled markers, a legend and the
 * summary tables.
 */

const WIDTH = 960;
const HEIGHT = 500;

/** Distinct on white and from each other; the first ones are the most distinct. */
const PALETTE = [
  '#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#17becf', '#8c564b', '#e377c2', '#bcbd22', '#393b79', '#637939',
  '#843c39', '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1', '#636363', '#ad494a', '#8ca252', '#de9ed6',
];

/**
 * Colours follow the enabled regions' catalogue order, so the same deployment always draws a
 * region in the same colour and a small deployment uses the most distinct colours.
 */
export function regionColours(enabledRegions: readonly string[]): (region: string) => string {
  const order = REGION_CATALOGUE.map((r) => r.code).filter((code) => enabledRegions.includes(code));
  return (region) => {
    const index = order.indexOf(region);
    return index < 0 ? '#555555' : (PALETTE[index % PALETTE.length] ?? '#555555');
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

type CountriesTopology = Topology<{ countries: GeometryCollection; land: GeometryCollection }>;

let worldCache: CountriesTopology | undefined;

function world(): CountriesTopology {
  if (worldCache === undefined) {
    const require = createRequire(import.meta.url);
    worldCache = JSON.parse(readFileSync(require.resolve('world-atlas/countries-110m.json'), 'utf8')) as CountriesTopology;
  }
  return worldCache;
}

/** A small, deterministic offset so that devices of one city show as a cluster, not one dot. */
function jitter(name: string): [number, number] {
  let h = 2166136261;
  for (let i = 0; i < name.length; i += 1) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  const angle = ((h >>> 0) % 360) * (Math.PI / 180);
  const radius = 1 + (((h >>> 9) % 100) / 100) * 5;
  return [Math.cos(angle) * radius, Math.sin(angle) * radius];
}

const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

/** `drained`: a region drawn as drained (hollow, its label struck through), for the drain scenario's map. */
export function renderMapSvg(run: FleetRun, enabledRegions: readonly string[], options: { drained?: string; label?: string } = {}): string {
  const regionColour = regionColours(enabledRegions);
  const topology = world();
  const countries = feature(topology, topology.objects.countries);
  const projection = geoNaturalEarth1().fitExtent(
    [
      [10, 10],
      [WIDTH - 10, HEIGHT - 10],
    ],
    { type: 'Sphere' },
  );
  const path = geoPath(projection);
  const parts: string[] = [];
  parts.push(`<path d="${path({ type: 'Sphere' }) ?? ''}" fill="#eaf2f8" stroke="#9bb"/>`);
  parts.push(`<path d="${path(geoGraticule10()) ?? ''}" fill="none" stroke="#d4e2ea" stroke-width="0.5"/>`);
  parts.push(`<path d="${path(countries) ?? ''}" fill="#d9d9d2" stroke="#ffffff" stroke-width="0.5"/>`);

  // One line per (place, region) pair: the assignment at a glance without hundreds of strokes.
  const links = new Map<string, { from: [number, number]; region: string }>();
  for (const o of run.outcomes) {
    if (!o.ok || o.location === undefined || o.region === undefined || !isIotRegion(o.region)) continue;
    links.set(`${o.location.lon},${o.location.lat},${o.region}`, { from: [o.location.lon, o.location.lat], region: o.region });
  }
  for (const { from, region } of links.values()) {
    const to = getRegion(region);
    const d = path({ type: 'LineString', coordinates: [from, [to.lon, to.lat]] });
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${regionColour(region)}" stroke-opacity="0.35" stroke-width="0.8"/>`);
  }

  for (const o of run.outcomes) {
    if (o.location === undefined) continue;
    const at = projection([o.location.lon, o.location.lat]);
    if (!at) continue;
    const [dx, dy] = jitter(o.thingName);
    const x = at[0] + dx;
    const y = at[1] + dy;
    if (o.ok && o.region !== undefined) {
      // A device its own measurements placed is ringed: beside the model's, it shows where the network disagreed with the map.
      const measured = o.placement === 'measured';
      const ring = measured ? ' stroke="#000" stroke-width="1.2"' : '';
      const title = `${o.thingName} ${o.sourceIp} -> ${o.region}${o.placement !== undefined ? ` (${o.placement})` : ''}`;
      parts.push(`<circle class="device" data-placement="${escapeHtml(o.placement ?? 'unknown')}" cx="${fmt(x)}" cy="${fmt(y)}" r="${measured ? '3' : '2.4'}" fill="${regionColour(o.region)}" fill-opacity="0.85"${ring}><title>${escapeHtml(title)}</title></circle>`);
    } else {
      parts.push(`<path class="failed" d="M${fmt(x - 3)},${fmt(y - 3)}L${fmt(x + 3)},${fmt(y + 3)}M${fmt(x - 3)},${fmt(y + 3)}L${fmt(x + 3)},${fmt(y - 3)}" stroke="#000" stroke-width="1.5"><title>${escapeHtml(`${o.thingName} failed at ${o.failure?.step ?? '?'}`)}</title></path>`);
    }
  }

  for (const code of enabledRegions) {
    if (!isIotRegion(code)) continue;
    const region = getRegion(code);
    const at = projection([region.lon, region.lat]);
    if (!at) continue;
    const [x, y] = at;
    const drained = code === options.drained;
    parts.push(
      `<g class="region${drained ? ' drained' : ''}"><circle cx="${fmt(x)}" cy="${fmt(y)}" r="7" fill="${drained ? '#fff' : regionColour(code)}" stroke="${drained ? regionColour(code) : '#111'}" stroke-width="2"${drained ? ' stroke-dasharray="3 2"' : ''}/>` +
        `<text x="${fmt(x + 10)}" y="${fmt(y + 4)}" font-size="12" font-weight="bold" fill="#111" stroke="#fff" stroke-width="3" paint-order="stroke"${drained ? ' text-decoration="line-through"' : ''}>${escapeHtml(drained ? `${code} (drained)` : code)}</text>` +
        `<title>${escapeHtml(`${code}: ${region.name}`)}</title></g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(options.label ?? 'Devices by assigned region')}">${parts.join('')}</svg>`;
}

/**
 * The drain scenario's section: the drained region's devices on a second map, coloured by the
 * region they are in now (a line from each place to it), the figures, and one row per device:
 * where it was, where it is, how long its move took.
 */
export function renderDrainSection(drain: DrainResult, enabledRegions: readonly string[]): string {
  const regionColour = regionColours(enabledRegions);
  const after: FleetRun = {
    elapsedMs: 0,
    concurrency: 0,
    outcomes: drain.devices.map((d) => ({
      thingName: d.thingName,
      sourceIp: d.sourceIp,
      ...(d.location ? { location: d.location } : {}),
      ok: d.now !== undefined,
      ...(d.now !== undefined ? { region: d.now } : {}),
      steps: {},
      totalMs: 0,
    })),
  };
  const cell = (value: string | number | undefined): string => `<td>${value === undefined ? '-' : escapeHtml(String(value))}</td>`;
  const swatch = (region: string | undefined): string =>
    region === undefined ? '<td>-</td>' : `<td><span class="swatch" style="background:${regionColour(region)}"></span>${escapeHtml(region)}</td>`;
  const rows = drain.devices
    .map((d) => `<tr class="drained-device">${cell(d.thingName)}${swatch(d.from)}${swatch(d.now)}${cell(d.status)}${cell(d.asked)}${cell(d.boot)}${cell(d.moveMs)}${cell(d.bootMs)}</tr>`)
    .join('');
  const movedTo = Object.entries(drain.movedTo)
    .map(([region, n]) => `<li><span class="swatch" style="background:${regionColour(region)}"></span>${escapeHtml(region)} <b>${n}</b></li>`)
    .join('');
  return `<h2 id="drain">Drain of ${escapeHtml(drain.region)} with migration</h2>
<p><code>${escapeHtml(drain.command)}</code>: the region takes no new devices, and each of its devices is asked (through its shadow) to move to the nearest other region; the devices then boot again and move, keeping their old certificate until the new one is confirmed.</p>
<div class="figures">
<div><b>${drain.devices.length}</b>devices in ${escapeHtml(drain.region)}</div>
<div><b>${drain.moved}</b>moved</div>
<div><b>${drain.stayed}</b>still in ${escapeHtml(drain.region)}</div>
<div><b>${drain.movesPerSecond ?? '-'}</b>moves per second</div>
<div><b>${drain.moveMs ? `${drain.moveMs.p50} / ${drain.moveMs.p99}` : '-'} ms</b>move p50 / p99, request to switch</div>
<div><b>${drain.bootMs ? `${drain.bootMs.p50} / ${drain.bootMs.p99}` : '-'} ms</b>the device's boot with its move, p50 / p99</div>
</div>
${renderMapSvg(after, enabledRegions, { drained: drain.region, label: `Devices of ${drain.region} by the region they are in after the drain` })}
<ul class="legend">${movedTo}</ul>
<p class="muted">Dots: the devices that were in ${escapeHtml(drain.region)}, coloured by the region the registry has them in now; lines: place to that region. The hollow dashed marker is the drained region. Move time: from the operator's request to the confirmation in the new region (the registry's history), which includes the wait for the device's next boot; the device's time: its boot that moved it.</p>
<table><tr><th>device</th><th>was in</th><th>is in</th><th>status</th><th>request</th><th>second boot</th><th>move ms</th><th>device ms</th></tr>${rows}</table>`;
}

export function renderReport(input: { run: FleetRun; summary: FleetSummary; enabledRegions: readonly string[]; generatedAt: Date; title?: string; drain?: DrainResult }): string {
  const { run, summary, enabledRegions } = input;
  const regionColour = regionColours(enabledRegions);
  const title = input.title ?? 'Global IoT provisioning: fleet report';
  const legend = enabledRegions
    .map((code) => {
      const name = isIotRegion(code) ? getRegion(code).name : code;
      const count = summary.perRegion[code] ?? 0;
      return `<li><span class="swatch" style="background:${regionColour(code)}"></span>${escapeHtml(code)} <span class="muted">${escapeHtml(name)}</span> <b>${count}</b></li>`;
    })
    .join('');
  const stepRows = Object.entries(summary.perStep)
    .map(([step, f]) => `<tr><td>${escapeHtml(step)}</td><td>${f.count}</td><td>${f.p50Ms.toFixed(1)}</td><td>${f.p99Ms.toFixed(1)}</td></tr>`)
    .join('');
  const placementRows = enabledRegions
    .filter((code) => (summary.perRegion[code] ?? 0) > 0)
    .map((code) => {
      const by = summary.placements[code] ?? {};
      const model = by['model'] ?? 0;
      const measured = by['measured'] ?? 0;
      const other = (summary.perRegion[code] ?? 0) - model - measured;
      return `<tr><td><span class="swatch" style="background:${regionColour(code)}"></span>${escapeHtml(code)}</td><td>${model}</td><td>${measured}</td><td>${other}</td></tr>`;
    })
    .join('');
  const measuredTotal = Object.values(summary.placements).reduce((sum, by) => sum + (by['measured'] ?? 0), 0);
  const failureRows = Object.entries(summary.failuresByCause)
    .sort((a, b) => b[1] - a[1])
    .map(([cause, n]) => `<tr><td>${escapeHtml(cause)}</td><td>${n}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
.muted { color: #666; }
.figures { display: flex; gap: 24px; margin: 12px 0; }
.figures div { background: #f4f6f8; padding: 8px 12px; border-radius: 6px; }
.figures b { display: block; font-size: 20px; }
ul.legend { list-style: none; padding: 0; columns: 3; }
ul.legend li { margin: 2px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 6px; border: 1px solid #111; vertical-align: -1px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
td, th { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="muted">Generated ${escapeHtml(input.generatedAt.toISOString())}</div>
<div class="figures">
<div><b>${summary.provisioned} / ${summary.devices}</b>devices provisioned</div>
<div><b>${summary.failed}</b>failed</div>
<div><b>${measuredTotal}</b>placed by measurement</div>
<div><b>${summary.devicesPerSecond}</b>devices per second</div>
<div><b>${summary.perStep.total ? summary.perStep.total.p99Ms.toFixed(0) : '-'} ms</b>p99 end to end</div>
</div>
${renderMapSvg(run, enabledRegions)}
<ul class="legend">${legend}</ul>
<p class="muted">Dots: devices at their simulated address's location, coloured by the region they were provisioned in; black-edged dots: devices whose own handshake times placed them (the others went where the network-distance model put them); crosses: failed devices; lines: place to region. Large ringed dots: the regions.</p>
<h2>Placed by the model, placed by measurement</h2>
<table><tr><th>region</th><th>by model</th><th>by measurement</th><th>other (pinned, default, overflow)</th></tr>${placementRows}</table>
<h2>Latency per step (ms)</h2>
<table><tr><th>step</th><th>count</th><th>p50</th><th>p99</th></tr>${stepRows}</table>
${failureRows ? `<h2>Failures</h2><table><tr><th>step: cause</th><th>devices</th></tr>${failureRows}</table>` : ''}
${input.drain ? renderDrainSection(input.drain, enabledRegions) : ''}
<p class="muted">Map data: Natural Earth (public domain), via the world-atlas package. IP geolocation by DB-IP (db-ip.com), CC BY 4.0.</p>
</body>
</html>
`;
}
