import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from 'zod';
import { describeError } from '@global-iot/core/errors.js';
import type { Logger } from '../log.js';
import { type CompiledPolicy, compilePolicy } from './policy.js';
import type { JsonObject, StoredShadow } from './shadow-document.js';

/**
 * What one emulated region's IoT registry holds: certificates, ownership tokens, things,
 * provisioning templates and policies. Plain in-memory maps (the region's broker and control
 * plane run in this process); a JSON snapshot is written after changes when a data directory is
 * given, and read back at start.
 */

export const CERTIFICATE_STATUSES = [
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'PENDING_TRANSFER',
  'REGISTER_INACTIVE',
  'PENDING_ACTIVATION',
] as const;
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number];

/** AWS: an unregistered fleet-provisioning certificate and its token live one hour. */
export const OWNERSHIP_TOKEN_TTL_MS = 3600_000;

const certificateSchema = z.object({
  certificateId: z.string().regex(/^[0-9a-f]{64}$/),
  certificateArn: z.string(),
  certificatePem: z.string(),
  status: z.enum(CERTIFICATE_STATUSES),
  /** DEFAULT: issued by or registered under a CA; SNI_ONLY: registered without a CA. */
  certificateMode: z.enum(['DEFAULT', 'SNI_ONLY']),
  caCertificateId: z.string().optional(),
  creationDate: z.number(),
  lastModifiedDate: z.number(),
  generationId: z.string(),
  customerVersion: z.number().int(),
  notBefore: z.number(),
  notAfter: z.number(),
  /** Set while PENDING_ACTIVATION from fleet provisioning: deleted if not registered by then. */
  pendingExpiresAt: z.number().optional(),
});
export type CertificateRecord = z.infer<typeof certificateSchema>;

const tokenSchema = z.object({
  token: z.string(),
  certificateId: z.string(),
  /** The claim certificate and client id that asked for the certificate. */
  ownerCertificateId: z.string(),
  ownerClientId: z.string(),
  expiresAt: z.number(),
});
export type OwnershipToken = z.infer<typeof tokenSchema>;

const thingSchema = z.object({
  thingName: z.string(),
  thingId: z.string(),
  thingArn: z.string(),
  attributes: z.record(z.string(), z.string()),
  thingTypeName: z.string().optional(),
  thingGroups: z.array(z.string()),
  billingGroupName: z.string().optional(),
  version: z.number().int(),
  principals: z.array(z.string()),
  creationDate: z.number(),
});
export type ThingRecord = z.infer<typeof thingSchema>;

const hookSchema = z.object({ targetArn: z.string(), payloadVersion: z.string() });
export type PreProvisioningHook = z.infer<typeof hookSchema>;

const templateSchema = z.object({
  templateName: z.string(),
  templateArn: z.string(),
  description: z.string().optional(),
  type: z.enum(['FLEET_PROVISIONING', 'JITP']),
  enabled: z.boolean(),
  provisioningRoleArn: z.string(),
  preProvisioningHook: hookSchema.optional(),
  defaultVersionId: z.number().int(),
  nextVersionId: z.number().int(),
  versions: z.array(z.object({ versionId: z.number().int(), templateBody: z.string(), creationDate: z.number() })),
  creationDate: z.number(),
  lastModifiedDate: z.number(),
  tags: z.array(z.object({ Key: z.string(), Value: z.string().optional() })),
});
export type TemplateRecord = z.infer<typeof templateSchema>;

const policySchema = z.object({
  policyName: z.string(),
  policyArn: z.string(),
  policyDocument: z.string(),
  creationDate: z.number(),
});
export type PolicyRecord = z.infer<typeof policySchema> & { readonly compiled: CompiledPolicy };

const jsonObject = z.record(z.string(), z.json()) as z.ZodType<JsonObject>;
const shadowSchema = z.object({
  thingName: z.string(),
  shadowName: z.string().optional(),
  version: z.number().int().nonnegative(),
  state: z.object({ desired: jsonObject.optional(), reported: jsonObject.optional() }).optional(),
  metadata: z.object({ desired: jsonObject.optional(), reported: jsonObject.optional() }).optional(),
});

const snapshotSchema = z.object({
  version: z.literal(1),
  region: z.string(),
  certificates: z.array(certificateSchema),
  tokens: z.array(tokenSchema),
  things: z.array(thingSchema),
  templates: z.array(templateSchema),
  policies: z.array(policySchema),
  certificatePolicies: z.record(z.string(), z.array(z.string())),
  // Absent in snapshots from before the shadow service.
  shadows: z.array(shadowSchema).default([]),
});
export type RegionSnapshot = z.infer<typeof snapshotSchema>;

export type TokenClaim =
  | { ok: true; token: OwnershipToken; certificate: CertificateRecord }
  | { ok: false; reason: string };

export interface RegionStateOptions {
  region: string;
  accountId: string;
  now: () => number;
  /** Called after every change (the persister listens). */
  onChange?: () => void;
  /** Called when a certificate's status changes (the broker drops its connections). */
  onCertificateStatus?: (certificate: CertificateRecord) => void;
}

export class RegionState {
  readonly region: string;
  readonly accountId: string;
  private readonly now: () => number;
  private readonly certificates = new Map<string, CertificateRecord>();
  private readonly tokens = new Map<string, OwnershipToken>();
  /** Tokens a RegisterThing is working on: a second request with one is refused. */
  private readonly tokensInFlight = new Set<string>();
  private readonly things = new Map<string, ThingRecord>();
  private readonly templates = new Map<string, TemplateRecord>();
  private readonly policies = new Map<string, PolicyRecord>();
  private readonly certificatePolicies = new Map<string, Set<string>>();
  /** Shadows by `<thing>\0<shadow name>` (the classic shadow's name is empty). */
  private readonly shadows = new Map<string, StoredShadow>();
  /** Thing names each certificate is attached to (the reverse of ThingRecord.principals). */
  private readonly certificateThings = new Map<string, Set<string>>();
  private readonly changed: () => void;
  private readonly certificateStatusChanged: (certificate: CertificateRecord) => void;

  constructor(options: RegionStateOptions) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.now = options.now;
    this.changed = options.onChange ?? (() => undefined);
    this.certificateStatusChanged = options.onCertificateStatus ?? (() => undefined);
  }

  arn(kind: 'cert' | 'thing' | 'policy' | 'provisioningtemplate', name: string): string {
    return `arn:aws:iot:${this.region}:${this.accountId}:${kind}/${name}`;
  }

  // Certificates

  getCertificate(certificateId: string): CertificateRecord | undefined {
    return this.certificates.get(certificateId);
  }

  listCertificates(): CertificateRecord[] {
    return [...this.certificates.values()];
  }

  addCertificate(input: {
    certificateId: string;
    certificatePem: string;
    status: CertificateStatus;
    certificateMode: 'DEFAULT' | 'SNI_ONLY';
    caCertificateId?: string;
    pendingExpiresAt?: number;
    /** Known when the region issued the certificate; read from the PEM otherwise. */
    validity?: { notBefore: Date; notAfter: Date };
  }): CertificateRecord {
    const at = this.now();
    const validity = input.validity ?? (() => {
      const x509 = new X509Certificate(input.certificatePem);
      return { notBefore: new Date(x509.validFrom), notAfter: new Date(x509.validTo) };
    })();
    const record: CertificateRecord = {
      certificateId: input.certificateId,
      certificateArn: this.arn('cert', input.certificateId),
      certificatePem: input.certificatePem,
      status: input.status,
      certificateMode: input.certificateMode,
      ...(input.caCertificateId ? { caCertificateId: input.caCertificateId } : {}),
      creationDate: at,
      lastModifiedDate: at,
      generationId: randomUUID(),
      customerVersion: 1,
      notBefore: validity.notBefore.getTime(),
      notAfter: validity.notAfter.getTime(),
      ...(input.pendingExpiresAt !== undefined ? { pendingExpiresAt: input.pendingExpiresAt } : {}),
    };
    this.certificates.set(record.certificateId, record);
    this.changed();
    return record;
  }

  setCertificateStatus(certificateId: string, status: CertificateStatus): CertificateRecord | undefined {
    const current = this.certificates.get(certificateId);
    if (!current) return undefined;
    const { pendingExpiresAt: _dropped, ...rest } = current;
    const next: CertificateRecord = {
      ...(status === 'PENDING_ACTIVATION' ? current : rest),
      status,
      lastModifiedDate: this.now(),
      customerVersion: current.customerVersion + 1,
      generationId: randomUUID(),
    };
    this.certificates.set(certificateId, next);
    this.changed();
    if (current.status !== status) this.certificateStatusChanged(next);
    return next;
  }

  /**
   * DeleteCertificate as AWS allows it: never an ACTIVE certificate, never one attached to a thing,
   * and one with policies only when forced (which detaches them). The refusal names which rule.
   */
  removeCertificate(certificateId: string, force: boolean): 'deleted' | 'absent' | 'active' | 'attached-to-thing' | 'has-policies' {
    const certificate = this.certificates.get(certificateId);
    if (!certificate) return 'absent';
    if (certificate.status === 'ACTIVE') return 'active';
    if ((this.certificateThings.get(certificateId)?.size ?? 0) > 0) return 'attached-to-thing';
    if ((this.certificatePolicies.get(certificateId)?.size ?? 0) > 0 && !force) return 'has-policies';
    this.deleteCertificate(certificateId);
    this.changed();
    return 'deleted';
  }

  private deleteCertificate(certificateId: string): void {
    this.certificates.delete(certificateId);
    this.certificatePolicies.delete(certificateId);
    for (const thingName of this.certificateThings.get(certificateId) ?? []) {
      const thing = this.things.get(thingName);
      if (thing) this.things.set(thingName, { ...thing, principals: thing.principals.filter((p) => p !== certificateId) });
    }
    this.certificateThings.delete(certificateId);
  }

  thingsOfCertificate(certificateId: string): ReadonlySet<string> {
    return this.certificateThings.get(certificateId) ?? new Set();
  }

  // Ownership tokens

  issueToken(certificateId: string, owner: { certificateId: string; clientId: string }): OwnershipToken {
    const token: OwnershipToken = {
      token: randomBytes(48).toString('base64'),
      certificateId,
      ownerCertificateId: owner.certificateId,
      ownerClientId: owner.clientId,
      expiresAt: this.now() + OWNERSHIP_TOKEN_TTL_MS,
    };
    this.tokens.set(token.token, token);
    this.changed();
    return token;
  }

  /**
   * Takes a token for one RegisterThing. It must exist in this region, be unexpired, belong to
   * the same certificate and client id that created the certificate, not be in use by another
   * request, and its certificate must still be waiting for activation. The reasons are for the
   * log; the device gets one answer for all of them.
   */
  claimToken(value: string, requester: { certificateId: string; clientId: string }): TokenClaim {
    const token = this.tokens.get(value);
    if (!token) return { ok: false, reason: 'unknown or already used token' };
    if (token.expiresAt <= this.now()) return { ok: false, reason: 'expired token' };
    if (token.ownerCertificateId !== requester.certificateId || token.ownerClientId !== requester.clientId) {
      return { ok: false, reason: 'token belongs to another client' };
    }
    if (this.tokensInFlight.has(value)) return { ok: false, reason: 'token is in use by another request' };
    const certificate = this.certificates.get(token.certificateId);
    if (!certificate || certificate.status !== 'PENDING_ACTIVATION') {
      return { ok: false, reason: 'certificate is no longer pending activation' };
    }
    this.tokensInFlight.add(value);
    return { ok: true, token, certificate };
  }

  /** Ends a claim: a successful registration uses the token up; a failed one hands it back. */
  releaseToken(value: string, used: boolean): void {
    this.tokensInFlight.delete(value);
    if (used && this.tokens.delete(value)) this.changed();
  }

  /** Deletes expired tokens and the pending certificates nobody registered in time. */
  sweep(): number {
    const at = this.now();
    let removed = 0;
    for (const [value, token] of this.tokens) {
      if (token.expiresAt <= at && !this.tokensInFlight.has(value)) {
        this.tokens.delete(value);
        removed++;
      }
    }
    for (const certificate of this.certificates.values()) {
      if (certificate.status === 'PENDING_ACTIVATION' && certificate.pendingExpiresAt !== undefined && certificate.pendingExpiresAt <= at) {
        this.deleteCertificate(certificate.certificateId);
        removed++;
      }
    }
    if (removed > 0) this.changed();
    return removed;
  }

  // Things

  getThing(thingName: string): ThingRecord | undefined {
    return this.things.get(thingName);
  }

  listThings(): ThingRecord[] {
    return [...this.things.values()].sort((a, b) => a.thingName.localeCompare(b.thingName));
  }

  putThing(input: {
    thingName: string;
    attributes: Readonly<Record<string, string>>;
    thingTypeName?: string;
    thingGroups: readonly string[];
    billingGroupName?: string;
  }): ThingRecord {
    const existing = this.things.get(input.thingName);
    const record: ThingRecord = {
      thingName: input.thingName,
      thingId: existing?.thingId ?? randomUUID(),
      thingArn: this.arn('thing', input.thingName),
      attributes: { ...input.attributes },
      ...(input.thingTypeName !== undefined ? { thingTypeName: input.thingTypeName } : {}),
      thingGroups: [...input.thingGroups],
      ...(input.billingGroupName !== undefined ? { billingGroupName: input.billingGroupName } : {}),
      version: existing ? existing.version + 1 : 1,
      principals: existing?.principals ?? [],
      creationDate: existing?.creationDate ?? this.now(),
    };
    this.things.set(record.thingName, record);
    this.changed();
    return record;
  }

  attachThingPrincipal(thingName: string, certificateId: string): void {
    const thing = this.things.get(thingName);
    if (!thing) throw new RangeError(`no thing ${thingName}`);
    if (!thing.principals.includes(certificateId)) {
      this.things.set(thingName, { ...thing, principals: [...thing.principals, certificateId] });
    }
    let names = this.certificateThings.get(certificateId);
    if (!names) {
      names = new Set();
      this.certificateThings.set(certificateId, names);
    }
    names.add(thingName);
    this.changed();
  }

  /** Detaches a certificate from a thing; false when it was not attached. */
  detachThingPrincipal(thingName: string, certificateId: string): boolean {
    const thing = this.things.get(thingName);
    if (!thing || !thing.principals.includes(certificateId)) return false;
    this.things.set(thingName, { ...thing, principals: thing.principals.filter((p) => p !== certificateId) });
    this.certificateThings.get(certificateId)?.delete(thingName);
    this.changed();
    return true;
  }

  /** DeleteThing as AWS allows it: not while a principal is attached. */
  removeThing(thingName: string): 'deleted' | 'absent' | 'has-principals' {
    const thing = this.things.get(thingName);
    if (!thing) return 'absent';
    if (thing.principals.length > 0) return 'has-principals';
    this.things.delete(thingName);
    this.changed();
    return 'deleted';
  }

  /** Replaces a thing's attributes (UpdateThing); the version goes up. */
  updateThingAttributes(thingName: string, attributes: Readonly<Record<string, string>>): ThingRecord | undefined {
    const thing = this.things.get(thingName);
    if (!thing) return undefined;
    const next = { ...thing, attributes: { ...attributes }, version: thing.version + 1 };
    this.things.set(thingName, next);
    this.changed();
    return next;
  }

  // Shadows

  getShadow(thingName: string, shadowName: string | undefined): StoredShadow | undefined {
    return this.shadows.get(`${thingName}\0${shadowName ?? ''}`);
  }

  putShadow(thingName: string, shadowName: string | undefined, shadow: StoredShadow): void {
    this.shadows.set(`${thingName}\0${shadowName ?? ''}`, shadow);
    this.changed();
  }

  // Policies

  getPolicy(policyName: string): PolicyRecord | undefined {
    return this.policies.get(policyName);
  }

  /** Creates or replaces a policy; the document is validated (InvalidPolicy). */
  putPolicy(policyName: string, policyDocument: string): PolicyRecord {
    const record: PolicyRecord = {
      policyName,
      policyArn: this.arn('policy', policyName),
      policyDocument,
      creationDate: this.policies.get(policyName)?.creationDate ?? this.now(),
      compiled: compilePolicy(policyDocument),
    };
    this.policies.set(policyName, record);
    this.changed();
    return record;
  }

  attachPolicy(certificateId: string, policyName: string): void {
    if (!this.policies.has(policyName)) throw new RangeError(`no policy ${policyName}`);
    let names = this.certificatePolicies.get(certificateId);
    if (!names) {
      names = new Set();
      this.certificatePolicies.set(certificateId, names);
    }
    names.add(policyName);
    this.changed();
  }

  detachPolicy(certificateId: string, policyName: string): void {
    if (this.certificatePolicies.get(certificateId)?.delete(policyName)) this.changed();
  }

  policyNamesOf(certificateId: string): string[] {
    return [...(this.certificatePolicies.get(certificateId) ?? [])];
  }

  policiesOf(certificateId: string): CompiledPolicy[] {
    const out: CompiledPolicy[] = [];
    for (const name of this.certificatePolicies.get(certificateId) ?? []) {
      const policy = this.policies.get(name);
      if (policy) out.push(policy.compiled);
    }
    return out;
  }

  // Provisioning templates

  getTemplate(templateName: string): TemplateRecord | undefined {
    return this.templates.get(templateName);
  }

  listTemplates(): TemplateRecord[] {
    return [...this.templates.values()].sort((a, b) => a.templateName.localeCompare(b.templateName));
  }

  putTemplate(record: TemplateRecord): void {
    this.templates.set(record.templateName, record);
    this.changed();
  }

  deleteTemplate(templateName: string): boolean {
    const deleted = this.templates.delete(templateName);
    if (deleted) this.changed();
    return deleted;
  }

  // Persistence

  snapshot(): RegionSnapshot {
    return {
      version: 1,
      region: this.region,
      certificates: [...this.certificates.values()],
      tokens: [...this.tokens.values()],
      things: [...this.things.values()],
      templates: [...this.templates.values()],
      policies: [...this.policies.values()].map(({ compiled: _compiled, ...policy }) => policy),
      certificatePolicies: Object.fromEntries([...this.certificatePolicies].map(([id, names]) => [id, [...names]])),
      shadows: [...this.shadows].map(([key, shadow]) => {
        const [thingName = '', shadowName = ''] = key.split('\0');
        return { thingName, ...(shadowName ? { shadowName } : {}), ...shadow };
      }),
    };
  }

  /** Replaces the state with a snapshot (validated: the file is outside input). */
  restore(input: unknown): void {
    const snapshot = snapshotSchema.parse(input);
    if (snapshot.region !== this.region) throw new RangeError(`snapshot is of ${snapshot.region}, not ${this.region}`);
    this.certificates.clear();
    this.tokens.clear();
    this.things.clear();
    this.templates.clear();
    this.policies.clear();
    this.certificatePolicies.clear();
    this.certificateThings.clear();
    this.shadows.clear();
    for (const { thingName, shadowName, ...shadow } of snapshot.shadows) this.shadows.set(`${thingName}\0${shadowName ?? ''}`, shadow);
    for (const c of snapshot.certificates) this.certificates.set(c.certificateId, c);
    for (const t of snapshot.tokens) this.tokens.set(t.token, t);
    for (const t of snapshot.templates) this.templates.set(t.templateName, t);
    for (const p of snapshot.policies) this.policies.set(p.policyName, { ...p, compiled: compilePolicy(p.policyDocument) });
    for (const [id, names] of Object.entries(snapshot.certificatePolicies)) this.certificatePolicies.set(id, new Set(names));
    for (const thing of snapshot.things) {
      this.things.set(thing.thingName, thing);
      for (const id of thing.principals) {
        const names = this.certificateThings.get(id) ?? new Set<string>();
        names.add(thing.thingName);
        this.certificateThings.set(id, names);
      }
    }
  }
}

export class StateFileError extends Error {
  override name = 'StateFileError';
}

/** Reads a region's snapshot file into the state; a missing file is a fresh region. */
export async function loadRegionState(state: RegionState, path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new StateFileError(`cannot read ${path}`, { cause: error });
  }
  try {
    state.restore(JSON.parse(text));
  } catch (cause) {
    throw new StateFileError(`${path} is not a valid region snapshot; move it away to start afresh`, { cause });
  }
  return true;
}

export interface Persister {
  /** Schedules a write; changes within the debounce window share one write. */
  schedule(): void;
  /** Writes now if anything is pending, and stops scheduling. */
  flush(): Promise<void>;
}

/**
 * Writes snapshots atomically (temporary file, then rename) at most once per `debounceMs`, so a
 * burst of provisioning costs one write rather than one per device.
 */
export function createPersister(options: {
  path: string;
  snapshot: () => RegionSnapshot;
  debounceMs?: number;
  log: Logger;
}): Persister {
  const debounceMs = options.debounceMs ?? 200;
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  // Writes run one after another; each caller of enqueue() gets (and reports) its own failure.
  let chain: Promise<void> = Promise.resolve();

  const write = async (): Promise<void> => {
    if (!dirty) return;
    dirty = false;
    const text = JSON.stringify(options.snapshot());
    const temporary = `${options.path}.${process.pid}.tmp`;
    await mkdir(dirname(options.path), { recursive: true });
    await writeFile(temporary, text, { mode: 0o600 });
    await rename(temporary, options.path);
  };
  const enqueue = (): Promise<void> => {
    const next = chain.then(write);
    chain = next.catch(() => undefined);
    return next;
  };

  return {
    schedule() {
      dirty = true;
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        enqueue().catch((error: unknown) => {
          // The state stays dirty, so the next change or the final flush tries again.
          dirty = true;
          options.log.error('could not write the region snapshot', { path: options.path, error: describeError(error) });
        });
      }, debounceMs);
      timer.unref();
    },
    async flush() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await enqueue();
    },
  };
}
