import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFleetDemo, type DemoResult } from '@global-iot/local/fleet/demo.js';
import { regionColours } from '@global-iot/local/fleet/report.js';
import { type ProductCloud, startProductCloud } from '../../device/support/cloud.js';
import { colourHistogram, decodePng } from './support/png.js';

/**
 * The demo `npm start` runs, on a handful of devices: enrol, provision through the whole flow in
 * a child process, summary, report page; then the page as a browser shows it.
 */

const REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1', 'sa-east-1', 'ap-southeast-2'];
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let cloud: ProductCloud;
let workDir: string;
let demo: DemoResult;
let stdout = '';
let stderr = '';

beforeAll(async () => {
  cloud = await startProductCloud(REGIONS);
  workDir = mkdtempSync(join(tmpdir(), 'fleet-demo-'));
  demo = await runFleetDemo(
    cloud.cloud,
    {
      devices: 8,
      concurrency: 4,
      certificateMode: 'mixed',
      protocol: 'mqtt311',
      workDir,
      reportPath: join(workDir, 'report.html'),
      inProcess: false,
    },
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stderrIsTty: false },
  );
}, 120_000);

afterAll(async () => {
  await cloud?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('fleet demo', () => {
  it('provisions every device on every continent and sums it up', () => {
    // Assess
    expect(demo.exitCode).toBe(0);
    expect(demo.summary).toMatchObject({ devices: 8, provisioned: 8, failed: 0, failuresByCause: {} });
    // Eight devices from six continents land in more than one region.
    expect(Object.keys(demo.summary.perRegion).length).toBeGreaterThan(2);
    for (const step of ['bootstrap', 'connect', 'create-certificate', 'register-thing', 'store', 'confirm', 'total'] as const) {
      expect(demo.summary.perStep[step]?.count).toBe(8);
    }
    expect(demo.summary.devicesPerSecond).toBeGreaterThan(0);
    expect(stdout).toContain('8 of 8 devices provisioned');
    expect(stdout).toContain('p99 ms');
    expect(stderr).toContain('provisioning [##############################] 8/8 100%');
  });

  it('writes a self-contained report page', () => {
    // Act
    const html = readFileSync(demo.reportPath, 'utf8');

    // Assess
    expect(html).toContain('<svg');
    expect(html.match(/class="device"/g)).toHaveLength(8);
    expect(html.match(/class="region"/g)).toHaveLength(REGIONS.length);
    expect(html).not.toMatch(/<script|\bsrc=|<link|href="http/);
  });

  it('renders in headless Chromium: a map, not a blank page', { timeout: 60_000 }, async () => {
    // Prepare
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
    const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1000, height: 800 },
    });
    const requested: string[] = [];
    let png: Buffer;
    try {
      const page = await context.newPage();
      page.on('request', (request) => requested.push(request.url()));

      // Act
      await page.goto(pathToFileURL(demo.reportPath).href, { waitUntil: 'load' });
      png = await page.screenshot({ fullPage: false });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }

    // Assess: nothing but the page itself was loaded.
    expect(requested).toEqual([pathToFileURL(demo.reportPath).href]);
    const image = decodePng(png);
    const histogram = colourHistogram(image);
    const pixels = image.width * image.height;
    const white = histogram.get('#ffffff') ?? 0;
    expect(pixels - white).toBeGreaterThan(pixels * 0.2);
    expect(histogram.size).toBeGreaterThan(50);
    // Each region's colour is on screen (legend swatches and region markers are solid).
    const colourOf = regionColours(REGIONS);
    for (const region of REGIONS) expect({ region, pixels: (histogram.get(colourOf(region)) ?? 0) > 20 }).toEqual({ region, pixels: true });
  });
});

describe('fleet demo with every region down', () => {
  it('exits non-zero and counts the failures by cause', { timeout: 60_000 }, async () => {
    // Prepare: runs after the tests above, which need the regions.
    for (const region of REGIONS) await cloud.cloud.region(region).dataPlane.close();
    let out = '';

    // Act
    const result = await runFleetDemo(
      cloud.cloud,
      { devices: 2, concurrency: 2, certificateMode: 'csr', protocol: 'mqtt311', workDir, reportPath: join(workDir, 'down.html'), inProcess: true },
      { stdout: (t) => (out += t), stderr: () => undefined, stderrIsTty: false },
    );

    // Assess
    expect(result.exitCode).toBe(1);
    expect(result.summary).toMatchObject({ provisioned: 0, failed: 2, failuresByCause: { 'connect: NoRegionAnswered': 2 } });
    expect(out).toMatch(/connect: NoRegionAnswered\s+2/);
  });
});
