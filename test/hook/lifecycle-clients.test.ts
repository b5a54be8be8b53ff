import { GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { lifecycleClients } from '@global-iot/pre-provisioning-hook/lifecycle-clients.js';

/**
 * The confirmation's clients per region: built once and kept, and on AWS the data plane at the
 * account's own endpoint (DescribeEndpoint), described once per region. The request is stopped
 * before it leaves, once the SDK has resolved where it would go.
 */

// The SDK signs before it sends; made-up credentials do, none from this machine.
beforeAll(() => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  vi.stubEnv('AWS_SESSION_TOKEN', '');
});
afterAll(() => {
  vi.unstubAllEnvs();
});

class Stopped extends Error {
  override name = 'Stopped';
}

/** The https host a shadow call of `client` would go to. */
let host = '';
async function hostOf(client: ReturnType<ReturnType<typeof lifecycleClients>['shadows']>): Promise<string> {
  host = '';
  const stop = 'stop-before-sending';
  if (!client.middlewareStack.identify().some((entry) => entry.startsWith(stop))) {
    client.middlewareStack.add(
      () => async (args) => {
        const request = args.request as { protocol?: string; hostname?: string };
        host = `${request.protocol ?? ''}//${request.hostname ?? ''}`;
        throw new Stopped();
      },
      { step: 'finalizeRequest', name: stop },
    );
  }
  await expect(client.send(new GetThingShadowCommand({ thingName: 'sensor-1' }))).rejects.toThrow(Stopped);
  return host;
}

describe('lifecycle clients', () => {
  it("reach each region's data plane at the account's described endpoint, described once per region, one client each", async () => {
    // Prepare
    const described: string[] = [];
    const clients = lifecycleClients({}, {
      describeDataEndpoint: async (region) => {
        described.push(region);
        return `a1b2c3-ats.iot.${region}.amazonaws.com`;
      },
    });

    // Act
    const first = clients.shadows('eu-west-1');
    const hosts = [await hostOf(first), await hostOf(clients.shadows('eu-west-1')), await hostOf(clients.shadows('ap-south-1'))];

    // Assess
    expect(clients.shadows('eu-west-1')).toBe(first);
    expect(clients.iot('eu-west-1')).toBe(clients.iot('eu-west-1'));
    expect(hosts).toEqual(['https://a1b2c3-ats.iot.eu-west-1.amazonaws.com', 'https://a1b2c3-ats.iot.eu-west-1.amazonaws.com', 'https://a1b2c3-ats.iot.ap-south-1.amazonaws.com']);
    expect(described).toEqual(['eu-west-1', 'ap-south-1']);
  });

  it('fail the call, and describe again next time, when the endpoint cannot be described', async () => {
    // Prepare
    let calls = 0;
    const clients = lifecycleClients({}, {
      describeDataEndpoint: async (region) => {
        calls++;
        if (calls === 1) throw new Error('throttled');
        return `a1b2c3-ats.iot.${region}.amazonaws.com`;
      },
    });

    // Act
    const failed = await clients.shadows('eu-west-1').send(new GetThingShadowCommand({ thingName: 'sensor-1' })).then(
      () => 'sent',
      (error: unknown) => (error instanceof Error ? error.name : 'thrown'),
    );
    const host = await hostOf(clients.shadows('eu-west-1'));

    // Assess
    expect(failed).toBe('DependencyUnavailable');
    expect(host).toBe('https://a1b2c3-ats.iot.eu-west-1.amazonaws.com');
    expect(calls).toBe(2);
  });
});
