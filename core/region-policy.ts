import type { DeploymentConfig } from './config.js';
import { compileRegionPolicy, type RegionChooser, type RegionPolicy } from './region-choice.js';

/**
 * The region policy a deployment runs: its static part from the configuration, its dynamic part
 * the regions operators drained at run time (`ops regions drain`). One place, so the bootstrap
 * and `ops plan` choose alike.
 */
export function regionPolicyOf(config: DeploymentConfig, runtimeDraining: readonly string[]): RegionPolicy {
  // A drained region no longer enabled is left out: the policy refuses draining what is not enabled.
  const draining = [...new Set([...config.draining, ...runtimeDraining.filter((r) => config.regions.includes(r))])].sort();
  return {
    enabled: config.regions,
    defaultRegion: config.defaultRegion,
    draining,
    residency: config.residency,
    fallbackCount: config.fallbackCount,
    ranking: config.regionRanking,
  };
}

/** Compiles the policy once per distinct set of drained regions, and reuses it. */
export function regionChooserFor(config: DeploymentConfig): (runtimeDraining: readonly string[]) => RegionChooser {
  const compiled = new Map<string, RegionChooser>();
  return (runtimeDraining) => {
    const policy = regionPolicyOf(config, runtimeDraining);
    const key = (policy.draining ?? []).join(',');
    let chooser = compiled.get(key);
    if (!chooser) {
      chooser = compileRegionPolicy(policy);
      compiled.set(key, chooser);
    }
    return chooser;
  };
}
