import type { Flow } from '../flow/context.js';
import type { StoredDevice } from '../store.js';

/** Step `load`: what a previous run stored, validated; the flow resumes from it. */
export function load(flow: Pick<Flow, 'step' | 'store' | 'thingName'>): Promise<StoredDevice | undefined> {
  return flow.step('load', () => flow.store.load(flow.thingName), {
    describe: (stored) => ({ detail: { found: stored?.state.step ?? 'nothing' } }),
  });
}
