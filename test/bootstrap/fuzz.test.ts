import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { httpApiEvent, makeHarness } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
  await t.registry.enroll({ thingName: 'fuzz-target' });
});
afterAll(async () => {
  await t.close();
});

const NO_SERVER_ERRORS = (status: number | undefined) => status !== undefined && status >= 400 && status < 500;

describe('hostile bodies', () => {
  it('random JSON bodies never crash the handler and never get a 5xx', async () => {
    const h = makeHarness({ registry: t.registry, now: () => t.clock.now });
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
        const res = await h.handler(httpApiEvent(value));
        expect(NO_SERVER_ERRORS(res.statusCode)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('random strings as bodies never crash the handler and never get a 5xx', async () => {
    const h = makeHarness({ registry: t.registry, now: () => t.clock.now });
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (raw) => {
        const res = await h.handler(httpApiEvent(null, { rawBody: raw }));
        expect(NO_SERVER_ERRORS(res.statusCode)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('mutating a signed field of a valid request never authenticates, never gets a 5xx, never changes the registry', async () => {
    const h = makeHarness({ registry: t.registry, now: () => t.clock.now });
    const valid: Record<string, unknown> = signedBootstrapRequest(h.fleetKey, 'fuzz-target', t.clock.now);
    const mutation = fc.record({
      key: fc.constantFrom('thing-name', 'thing-name-sig', 'timestamp'),
      value: fc.oneof(fc.anything(), fc.string(), fc.integer(), fc.base64String({ minLength: 4, maxLength: 200 })),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ key, value }) => {
        if (JSON.stringify(value) === JSON.stringify(valid[key])) return;
        const res = await h.handler(httpApiEvent({ ...valid, [key]: value }));
        expect(NO_SERVER_ERRORS(res.statusCode)).toBe(true);
      }),
      { numRuns: 200 },
    );
    expect((await t.registry.get('fuzz-target'))?.prov_status).toBe('unprovisioned');
  });

  it('extra unknown fields never cause a 5xx', async () => {
    const h = makeHarness({ registry: t.registry, now: () => t.clock.now });
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), async (extra) => {
        const res = await h.handler(httpApiEvent({ ...extra, 'thing-name': 'fuzz-other', 'thing-name-sig': 'AAAA', timestamp: t.clock.now }));
        expect(NO_SERVER_ERRORS(res.statusCode)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
