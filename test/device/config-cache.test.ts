import { describe, expect, it } from 'vitest';
import { ConfigCache } from '@global-iot/device/mqtt.js';

/** The MQTT connection settings cache: each entry holds a TLS context, milliseconds to build. */

const credentials = (name: string) => ({ certificatePem: `cert ${name}`, privateKeyPem: `key ${name}` });

describe('connection settings cache', () => {
  it('keeps credentials in use while one-off credentials pass through', () => {
    // Prepare: the claim credentials, then more one-off device credentials than the cache holds.
    const cache = new ConfigCache<string>(2);
    const built: string[] = [];
    const get = (name: string) => cache.get(credentials(name), () => {
      built.push(name);
      return name;
    });

    // Act: every device uses the claim credentials, then its own once.
    for (const device of ['a', 'b', 'c', 'd']) {
      get('claim');
      get(device);
    }

    // Assess: the claim context was built once; each device's once.
    expect(built).toEqual(['claim', 'a', 'b', 'c', 'd']);
  });

  it('builds again what it dropped, and tells credentials apart by certificate and key', () => {
    // Prepare
    const cache = new ConfigCache<number>(1);
    let builds = 0;
    const build = () => ++builds;

    // Act
    const first = cache.get(credentials('x'), build);
    cache.get({ certificatePem: 'cert x', privateKeyPem: 'key y' }, build);
    const again = cache.get(credentials('x'), build);

    // Assess
    expect(first).toBe(1);
    expect(again).toBe(3);
  });
});
