import { expect } from 'vitest';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import type { LogAudit } from './log-audit.js';
import type { ReliabilityCloud } from './cloud.js';
import type { DeviceResult } from './device.js';

/**
 * The whole system's state after a run, registry against every emulated region. A device is
 * either provisioned exactly once (registry `provisioned` in region R with certificate C; in R
 * a thing of its name whose only ACTIVE certificate is C; no thing of its name anywhere else),
 * or cleanly retryable (not provisioned, and no ACTIVE certificate for it anywhere but, while
 * `provisioning`, the one the hook allowed, which its next connection confirms). Anything else
 * is a problem, and so is an ACTIVE certificate that no registry record accounts for.
 */

export interface SystemAudit {
  readonly records: number;
  readonly provisioned: number;
  /** `provisioning` with the allowed certificate ACTIVE: registered, confirmation still to come. */
  readonly awaitingConfirmation: number;
  /** Not provisioned and nothing ACTIVE for it: the next bootstrap starts it over. */
  readonly retryable: number;
  readonly byRegion: Readonly<Record<string, number>>;
  /** Certificates left waiting for a RegisterThing that never came (AWS deletes them after an hour). */
  readonly pendingCertificates: number;
  readonly orphanActiveCertificates: number;
  /** Hook allows recorded per device (provision_attempts), at most. */
  readonly maxProvisionAttempts: number;
  /** Every broken rule, one line each (the first 30). */
  readonly problems: readonly string[];
  readonly problemCount: number;
}

export interface AuditExpectations {
  /** Devices that must end provisioned, with what each device itself believes. */
  readonly results?: readonly DeviceResult[];
}

export async function auditSystem(rc: ReliabilityCloud, expectations: AuditExpectations = {}): Promise<SystemAudit> {
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (text: string) => {
    problemCount++;
    if (problems.length < 30) problems.push(text);
  };

  const claimId = rc.cloud.pki.claim.certificateId;
  /** thing -> region -> ACTIVE certificate ids attached to it there. */
  const activeByThing = new Map<string, Map<string, string[]>>();
  let pendingCertificates = 0;
  let orphanActiveCertificates = 0;

  // The regions first, then the registry: every registry transition comes before the region
  // change it allows (the hook's write before IoT activates the certificate), so a registry read
  // after the regions' is never older than them, even while devices are still running.
  const activeByRegion = new Map<string, Set<string>>();
  for (const endpoint of rc.cloud.regions) {
    const region = endpoint.region;
    const { state } = rc.cloud.region(region);
    const active = new Set<string>();
    for (const certificate of state.listCertificates()) {
      if (certificate.status === 'ACTIVE' && certificate.certificateId !== claimId) active.add(certificate.certificateId);
      if (certificate.status === 'PENDING_ACTIVATION') pendingCertificates++;
    }
    activeByRegion.set(region, active);
    for (const thing of state.listThings()) {
      const ids = thing.principals.filter((id) => active.has(id));
      const regions = activeByThing.get(thing.thingName) ?? new Map<string, string[]>();
      regions.set(region, ids);
      activeByThing.set(thing.thingName, regions);
    }
  }

  const records = new Map<string, DeviceRecord>();
  for await (const record of rc.registry.scan()) records.set(record.thing_name, record);

  for (const [region, active] of activeByRegion) {
    const { state } = rc.cloud.region(region);
    for (const thingName of [...activeByThing.keys()].filter((name) => activeByThing.get(name)?.has(region))) {
      if (!records.has(thingName)) problem(`${region}: thing ${thingName} has no registry record`);
    }
    for (const certificateId of active) {
      const things = [...state.thingsOfCertificate(certificateId)];
      const [thingName] = things;
      const record = thingName === undefined ? undefined : records.get(thingName);
      if (things.length !== 1 || record?.certificate_id !== certificateId || record.aws_region !== region) {
        orphanActiveCertificates++;
        problem(`${region}: ACTIVE certificate ${certificateId.slice(0, 12)} (things: ${things.join(',') || 'none'}) is not a registry record's certificate`);
      }
    }
  }

  let provisioned = 0;
  let awaitingConfirmation = 0;
  let retryable = 0;
  let maxProvisionAttempts = 0;
  const byRegion: Record<string, number> = {};
  for (const record of records.values()) {
    const name = record.thing_name;
    maxProvisionAttempts = Math.max(maxProvisionAttempts, record.provision_attempts ?? 0);
    const regions = activeByThing.get(name) ?? new Map<string, string[]>();
    const elsewhere = [...regions.keys()].filter((r) => r !== record.aws_region);
    const home = record.aws_region === undefined ? [] : [...(regions.get(record.aws_region) ?? [])];
    if (record.prov_status === 'provisioned' && home.length === 0 && record.aws_region !== undefined && record.certificate_id !== undefined) {
      // Activated, connected and confirmed since the regions were read: look again, now.
      const live = rc.cloud.region(record.aws_region).state;
      if (live.getCertificate(record.certificate_id)?.status === 'ACTIVE' && live.thingsOfCertificate(record.certificate_id).has(name)) home.push(record.certificate_id);
    }
    if (record.prov_status === 'provisioned') {
      if (elsewhere.length > 0) problem(`${name}: provisioned in ${record.aws_region ?? '?'} but a thing of its name exists in ${elsewhere.join(',')}`);
      if (home.length !== 1 || home[0] !== record.certificate_id) {
        problem(`${name}: provisioned in ${record.aws_region ?? '?'} with ${record.certificate_id?.slice(0, 12) ?? '?'}, ACTIVE there: [${home.map((id) => id.slice(0, 12)).join(',')}]`);
        continue;
      }
      provisioned++;
      byRegion[record.aws_region ?? '?'] = (byRegion[record.aws_region ?? '?'] ?? 0) + 1;
      continue;
    }
    const activeAnywhere = [...regions.values()].flat();
    if (record.prov_status === 'provisioning' && elsewhere.every((r) => (regions.get(r) ?? []).length === 0)) {
      if (home.length === 0) {
        retryable++;
        continue;
      }
      if (home.length === 1 && home[0] === record.certificate_id) {
        awaitingConfirmation++;
        continue;
      }
    }
    if ((record.prov_status === 'unprovisioned' || record.prov_status === 'assigned') && activeAnywhere.length === 0) {
      retryable++;
      continue;
    }
    problem(`${name}: ${record.prov_status} with ACTIVE certificates in [${[...regions].filter(([, ids]) => ids.length > 0).map(([r]) => r).join(',')}]`);
  }

  for (const result of expectations.results ?? []) {
    const record = records.get(result.thingName);
    if (!result.ok) {
      problem(`${result.thingName}: the device gave up (${result.error ?? '?'}; ${result.trail.slice(-4).join(' | ')})`);
      continue;
    }
    if (record?.prov_status !== 'provisioned') problem(`${result.thingName}: the device finished but the registry says ${record?.prov_status ?? 'nothing'}`);
    else if (record.certificate_id !== result.certificateId || record.aws_region !== result.region) {
      problem(`${result.thingName}: the device holds ${result.certificateId?.slice(0, 12) ?? '?'} in ${result.region ?? '?'}, the registry ${record.certificate_id?.slice(0, 12) ?? '?'} in ${record.aws_region ?? '?'}`);
    }
  }

  return {
    records: records.size,
    provisioned,
    awaitingConfirmation,
    retryable,
    byRegion,
    pendingCertificates,
    orphanActiveCertificates,
    maxProvisionAttempts,
    problems,
    problemCount,
  };
}

/** Waits until no record is `provisioning` with its certificate ACTIVE (confirmations are asynchronous). */
export async function settleConfirmations(rc: ReliabilityCloud, timeoutMs = 15_000): Promise<SystemAudit> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const audit = await auditSystem(rc);
    if (audit.awaitingConfirmation === 0 || Date.now() > until) return audit;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The end state every hostile run must reach: no error line, no problem, no orphan, no secret logged. */
export async function expectCleanEnd(rc: ReliabilityCloud, audit: LogAudit): Promise<void> {
  await settleConfirmations(rc);
  const state = await auditSystem(rc);
  expect(audit.errorLines()).toEqual([]);
  expect(state.problems).toEqual([]);
  expect(state.orphanActiveCertificates).toBe(0);
  expect(audit.violations()).toEqual([]);
}
