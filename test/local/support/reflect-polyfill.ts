/**
 * @peculiar/x509 (used by the tests as an independent X.509 implementation) resolves its
 * algorithms through tsyringe, which will not load without the Reflect metadata API. No polyfill
 * package is installed, so this installs the three functions tsyringe calls. Import it before
 * @peculiar/x509.
 */
const store = new WeakMap<object, Map<unknown, unknown>>();
const reflect = Reflect as unknown as Record<string, unknown>;

if (typeof reflect['getMetadata'] !== 'function') {
  const own = (key: unknown, target: object): unknown => store.get(target)?.get(key);
  Object.assign(reflect, {
    defineMetadata(key: unknown, value: unknown, target: object): void {
      const entries = store.get(target) ?? new Map<unknown, unknown>();
      entries.set(key, value);
      store.set(target, entries);
    },
    getOwnMetadata: own,
    getMetadata(key: unknown, target: object): unknown {
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
        const value = own(key, t);
        if (value !== undefined) return value;
      }
      return undefined;
    },
  });
}

export {};
