import { createHash } from 'node:crypto';
// cborg is pure JavaScript: cbor-x's optional native helper breaks `npm ci` under npm 11.
import { decode as decodeCbor, encode as encodeCbor } from 'cborg';
import * as z from 'zod';
import { describeError } from '@global-iot/core/errors.js';
import { provisioningTemplateArn } from '@global-iot/core/provisioning-params.js';
import { parseTemplate, type ProvisioningTemplate, TemplateError } from '@global-iot/core/template/index.js';
import type { Logger } from '../log.js';
import type { BrokerConnection } from '../mqtt/broker.js';
import { applyThingOverrides, evaluateTemplate, TemplateConflictError, type TemplateResult } from './template/index.js';
import {
  type CertificateAuthority,
  CsrRejected,
  type DeviceKeyAlgorithm,
  generateDeviceKey,
  type IssuedCertificate,
  issueClientCertificate,
  verifyCsr,
} from '../pki.js';
import { InvalidPolicy } from './policy.js';
import type { FleetProvisioningThrottle } from './quotas.js';
import { OWNERSHIP_TOKEN_TTL_MS, type RegionState, type TemplateRecord } from './region-state.js';

/**
 * The fleet provisioning MQTT API of one region: CreateKeysAndCertificate,
 * CreateCertificateFromCsr and RegisterThing, in JSON and CBOR, answered on the requesting
 * connection only. Rejections carry `{statusCode, errorCode, errorMessage}`; the codes are listed
 * in local/README.md.
 */

export interface IotPrincipal {
  readonly certificateId: string;
}

/** What AWS IoT sends the pre-provisioning hook. */
export interface HookEvent {
  claimCertificateId: string;
  certificateId: string;
  certificatePem: string;
  templateArn: string;
  clientId: string;
  parameters: Record<string, string>;
}

/** Invokes the hook Lambda; resolves with its decoded answer, rejects on error or timeout. */
export type HookInvoker = (targetArn: string, event: HookEvent, timeoutMs: number) => Promise<unknown>;

export interface FleetProvisioningDeps {
  state: RegionState;
  deviceCa: CertificateAuthority;
  /** Key type CreateKeysAndCertificate generates (AWS: RSA 2048). */
  deviceKeyAlgorithm: DeviceKeyAlgorithm;
  invokeHook: HookInvoker;
  /** AWS gives the hook 5 s. */
  hookTimeoutMs: number;
  /** AWS's per-region request rates, when the cloud emulates its quotas. */
  throttle?: FleetProvisioningThrottle;
  now: () => number;
  log: Logger;
}

export class Rejection extends Error {
  override name = 'Rejection';
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

type Format = 'json' | 'cbor';

const stringMap = z.record(z.string(), z.string());
/** AWS takes an empty payload or `{}`; fields it does not know are ignored. */
const createKeysSchema = z.looseObject({});
const csrRequestSchema = z.object({ certificateSigningRequest: z.string().min(1) });
const registerSchema = z.object({
  certificateOwnershipToken: z.string().optional(),
  parameters: stringMap.optional(),
});
/** AWS's hook contract: a real boolean; overrides are strings. */
const hookAnswerSchema = z.object({
  allowProvisioning: z.boolean(),
  parameterOverrides: stringMap.optional(),
});

function decode(format: Format, payload: Buffer, emptyAllowed: boolean): unknown {
  if (payload.length === 0) {
    if (emptyAllowed) return {};
    throw new Rejection(400, 'InvalidPayload', 'the request payload is empty');
  }
  try {
    return format === 'json' ? JSON.parse(payload.toString('utf8')) : decodeCbor(payload);
  } catch (cause) {
    throw new Rejection(400, 'InvalidPayload', `the request payload is not valid ${format.toUpperCase()}`, { cause });
  }
}

function encode(format: Format, body: unknown): Buffer {
  return format === 'json' ? Buffer.from(JSON.stringify(body)) : Buffer.from(encodeCbor(body));
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Rejection(400, 'InvalidPayload', `${what}: ${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'invalid'}`);
  }
  return result.data;
}

type Operation =
  | { kind: 'create-keys'; format: Format; topic: string }
  | { kind: 'create-from-csr'; format: Format; topic: string }
  | { kind: 'register'; format: Format; topic: string; templateName: string };

const CREATE = /^\$aws\/certificates\/create\/(json|cbor)$/;
const CREATE_FROM_CSR = /^\$aws\/certificates\/create-from-csr\/(json|cbor)$/;
const REGISTER = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/(json|cbor)$/;

/** The request a topic names, if any. */
export function operationOf(topic: string): Operation | undefined {
  let m = CREATE.exec(topic);
  if (m) return { kind: 'create-keys', format: m[1] as Format, topic };
  m = CREATE_FROM_CSR.exec(topic);
  if (m) return { kind: 'create-from-csr', format: m[1] as Format, topic };
  m = REGISTER.exec(topic);
  if (m?.[1]) return { kind: 'register', format: m[2] as Format, topic, templateName: m[1] };
  return undefined;
}

/** Topics AWS IoT serves itself: requests and their answers, never routed between clients. */
export function isFleetProvisioningTopic(topic: string): boolean {
  return topic.startsWith('$aws/certificates/') || topic.startsWith('$aws/provisioning-templates/');
}

/** Name of the policy a template's inline PolicyDocument creates: the document's SHA-256. */
export function inlinePolicyName(policyDocument: string): string {
  return createHash('sha256').update(policyDocument).digest('hex');
}

export interface FleetProvisioning {
  /** Takes a publish on a fleet provisioning topic; false for any other topic. */
  handle(connection: BrokerConnection<IotPrincipal>, topic: string, payload: Buffer): boolean;
}

export function createFleetProvisioning(deps: FleetProvisioningDeps): FleetProvisioning {
  const { state, log } = deps;
  const parsedTemplates = new Map<string, ProvisioningTemplate>();

  function templateOf(record: TemplateRecord): ProvisioningTemplate {
    const version = record.versions.find((v) => v.versionId === record.defaultVersionId);
    if (!version) throw new Rejection(500, 'InternalFailure', `template ${record.templateName} has no default version`);
    let parsed = parsedTemplates.get(version.templateBody);
    if (!parsed) {
      parsed = parseTemplate(version.templateBody);
      if (parsedTemplates.size > 100) parsedTemplates.clear();
      parsedTemplates.set(version.templateBody, parsed);
    }
    return parsed;
  }

  async function createKeysAndCertificate(connection: BrokerConnection<IotPrincipal>, format: Format, payload: Buffer) {
    parse(createKeysSchema, decode(format, payload, true), 'CreateKeysAndCertificate');
    const key = await generateDeviceKey(deps.deviceKeyAlgorithm);
    const issued = issueClientCertificate(deps.deviceCa, key.spki, new Date(deps.now()));
    const token = register(connection, issued);
    return {
      certificateId: issued.certificateId,
      certificatePem: issued.certificatePem,
      privateKey: key.privateKeyPem,
      certificateOwnershipToken: token,
    };
  }

  function createCertificateFromCsr(connection: BrokerConnection<IotPrincipal>, format: Format, payload: Buffer) {
    const request = parse(csrRequestSchema, decode(format, payload, false), 'CreateCertificateFromCsr');
    let csr;
    try {
      csr = verifyCsr(request.certificateSigningRequest);
    } catch (error) {
      if (error instanceof CsrRejected) throw new Rejection(400, 'InvalidCertificateSigningRequest', error.message, { cause: error });
      throw error;
    }
    const issued = issueClientCertificate(deps.deviceCa, csr.spki, new Date(deps.now()), csr.subjectDer);
    const token = register(connection, issued);
    return { certificateId: issued.certificateId, certificatePem: issued.certificatePem, certificateOwnershipToken: token };
  }

  function register(connection: BrokerConnection<IotPrincipal>, issued: IssuedCertificate): string {
    state.addCertificate({
      certificateId: issued.certificateId,
      certificatePem: issued.certificatePem,
      status: 'PENDING_ACTIVATION',
      certificateMode: 'DEFAULT',
      caCertificateId: deps.deviceCa.certificateId,
      pendingExpiresAt: deps.now() + OWNERSHIP_TOKEN_TTL_MS,
      validity: { notBefore: issued.notBefore, notAfter: issued.notAfter },
    });
    return state.issueToken(issued.certificateId, {
      certificateId: connection.principal.certificateId,
      clientId: connection.clientId,
    }).token;
  }

  async function callHook(record: TemplateRecord, event: HookEvent): Promise<Record<string, string>> {
    const hook = record.preProvisioningHook;
    if (!hook) return {};
    let answer: unknown;
    try {
      answer = await deps.invokeHook(hook.targetArn, event, deps.hookTimeoutMs);
    } catch (error) {
      throw new Rejection(403, 'AccessDenied', 'the pre-provisioning hook failed or did not answer in time', { cause: error });
    }
    const parsed = hookAnswerSchema.safeParse(answer);
    if (!parsed.success) throw new Rejection(403, 'AccessDenied', 'the pre-provisioning hook gave an invalid answer');
    if (!parsed.data.allowProvisioning) throw new Rejection(403, 'AccessDenied', 'the pre-provisioning hook denied provisioning');
    return parsed.data.parameterOverrides ?? {};
  }

  async function registerThing(
    connection: BrokerConnection<IotPrincipal>,
    templateName: string,
    format: Format,
    payload: Buffer,
  ): Promise<{ thingName?: string; deviceConfiguration: Record<string, string> }> {
    const request = parse(registerSchema, decode(format, payload, false), 'RegisterThing');
    const tokenValue = request.certificateOwnershipToken ?? '';
    if (tokenValue === '') throw new Rejection(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token cannot be empty.');
    const claim = state.claimToken(tokenValue, { certificateId: connection.principal.certificateId, clientId: connection.clientId });
    if (!claim.ok) {
      log.info('RegisterThing refused the ownership token', { clientId: connection.clientId, reason: claim.reason });
      throw new Rejection(400, 'InvalidCertificateOwnershipToken', 'The certificate ownership token is invalid, expired or already used.');
    }
    let used = false;
    try {
      const record = state.getTemplate(templateName);
      if (!record) throw new Rejection(404, 'ResourceNotFound', `provisioning template ${templateName} does not exist`);
      if (!record.enabled) throw new Rejection(403, 'TemplateDisabled', `provisioning template ${templateName} is disabled`);
      if (record.type !== 'FLEET_PROVISIONING') {
        throw new Rejection(400, 'InvalidRequest', `provisioning template ${templateName} is not a fleet provisioning template`);
      }
      const template = templateOf(record);
      const certificate = claim.certificate;
      const parameters = request.parameters ?? {};
      const overrides = await callHook(record, {
        claimCertificateId: connection.principal.certificateId,
        certificateId: certificate.certificateId,
        certificatePem: certificate.certificatePem,
        templateArn: provisioningTemplateArn({ region: state.region, accountId: state.accountId, templateName }),
        clientId: connection.clientId,
        parameters,
      });
      let result: TemplateResult;
      try {
        result = evaluateTemplate(template, {
          parameters: { ...parameters, ...overrides },
          certificateId: certificate.certificateId,
          certificatePem: certificate.certificatePem,
          region: state.region,
          accountId: state.accountId,
        });
      } catch (error) {
        if (error instanceof TemplateError) throw new Rejection(400, 'InvalidParameters', error.message, { cause: error });
        throw error;
      }
      const answer = commit(certificate.certificateId, result);
      used = true;
      return answer;
    } finally {
      state.releaseToken(tokenValue, used);
    }
  }

  /**
   * Applies a template result in one synchronous step, after every check has passed, so that a
   * refused request changes nothing and concurrent requests never see half a registration.
   */
  function commit(certificateId: string, result: TemplateResult): { thingName?: string; deviceConfiguration: Record<string, string> } {
    const current = state.getCertificate(certificateId);
    if (current?.status !== 'PENDING_ACTIVATION') {
      throw new Rejection(400, 'InvalidCertificateOwnershipToken', 'The certificate is no longer pending activation.');
    }
    if (!result.certificate || result.certificate.certificateId !== certificateId) {
      throw new Rejection(400, 'InvalidRequest', 'the template does not register the certificate being provisioned');
    }
    let thingOutcome: ReturnType<typeof applyThingOverrides> | undefined;
    if (result.thing) {
      const existing = state.getThing(result.thing.thingName);
      try {
        thingOutcome = applyThingOverrides(
          existing && {
            thingName: existing.thingName,
            attributePayload: existing.attributes,
            ...(existing.thingTypeName !== undefined ? { thingTypeName: existing.thingTypeName } : {}),
            thingGroups: existing.thingGroups,
            ...(existing.billingGroupName !== undefined ? { billingGroup: existing.billingGroupName } : {}),
          },
          result.thing,
          result.thing.overrideSettings,
        );
      } catch (error) {
        if (error instanceof TemplateConflictError) throw new Rejection(409, 'ResourceConflict', error.message, { cause: error });
        throw error;
      }
    }
    const policyNames: string[] = [];
    const inlinePolicies: { name: string; document: string }[] = [];
    for (const policy of result.policies) {
      if ('policyName' in policy) {
        if (!state.getPolicy(policy.policyName)) throw new Rejection(404, 'ResourceNotFound', `policy ${policy.policyName} does not exist`);
        policyNames.push(policy.policyName);
      } else {
        inlinePolicies.push({ name: inlinePolicyName(policy.policyDocument), document: policy.policyDocument });
      }
    }
    try {
      for (const inline of inlinePolicies) {
        if (!state.getPolicy(inline.name)) state.putPolicy(inline.name, inline.document);
        policyNames.push(inline.name);
      }
    } catch (error) {
      if (error instanceof InvalidPolicy) throw new Rejection(400, 'InvalidParameters', error.message, { cause: error });
      throw error;
    }
    if (thingOutcome && result.thing) {
      const thing = thingOutcome.thing;
      if (thingOutcome.action !== 'unchanged') {
        state.putThing({
          thingName: thing.thingName,
          attributes: thing.attributePayload,
          ...(thing.thingTypeName !== undefined ? { thingTypeName: thing.thingTypeName } : {}),
          thingGroups: thing.thingGroups,
          ...(thing.billingGroup !== undefined ? { billingGroupName: thing.billingGroup } : {}),
        });
      }
      state.attachThingPrincipal(thing.thingName, certificateId);
    }
    for (const name of policyNames) state.attachPolicy(certificateId, name);
    state.setCertificateStatus(certificateId, result.certificate.status);
    return {
      ...(result.thing ? { thingName: result.thing.thingName } : {}),
      deviceConfiguration: { ...result.deviceConfiguration },
    };
  }

  async function run(connection: BrokerConnection<IotPrincipal>, operation: Operation, payload: Buffer): Promise<void> {
    const started = deps.now();
    let body: unknown;
    let outcome: 'accepted' | 'rejected' = 'accepted';
    let errorCode: string | undefined;
    try {
      if (deps.throttle && !deps.throttle(operation.kind)) throw new Rejection(429, 'Throttled', 'Rate exceeded.');
      switch (operation.kind) {
        case 'create-keys':
          body = await createKeysAndCertificate(connection, operation.format, payload);
          break;
        case 'create-from-csr':
          body = createCertificateFromCsr(connection, operation.format, payload);
          break;
        case 'register':
          body = await registerThing(connection, operation.templateName, operation.format, payload);
          break;
      }
    } catch (error) {
      const rejection =
        error instanceof Rejection ? error : new Rejection(500, 'InternalFailure', 'an internal error occurred', { cause: error });
      if (!(error instanceof Rejection)) log.error('fleet provisioning failed', { error: describeError(error) });
      outcome = 'rejected';
      errorCode = rejection.errorCode;
      body = { statusCode: rejection.statusCode, errorCode: rejection.errorCode, errorMessage: rejection.message };
      if (rejection.cause !== undefined) log.debug('rejection cause', { errorCode, cause: describeError(rejection.cause) });
    }
    connection.deliver(`${operation.topic}/${outcome}`, encode(operation.format, body));
    log.info('fleet provisioning', {
      region: state.region,
      operation: operation.kind,
      clientId: connection.clientId,
      outcome,
      ...(errorCode ? { errorCode } : {}),
      ...(body && typeof body === 'object' && 'certificateId' in body ? { certificateId: body.certificateId } : {}),
      latencyMs: deps.now() - started,
    });
  }

  return {
    handle(connection, topic, payload) {
      if (!isFleetProvisioningTopic(topic)) return false;
      const operation = operationOf(topic);
      // Answer topics are AWS's to publish: a client's publish there reaches nobody. A request
      // whose connection is already gone (a will) has no one to answer: nothing is created.
      if (operation && connection.isOpen()) {
        run(connection, operation, payload).catch((error: unknown) => {
          log.error('could not answer a fleet provisioning request', { error: describeError(error) });
        });
      }
      return true;
    },
  };
}
