import { X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import * as z from 'zod';
import { describeError } from '@global-iot/core/errors.js';
import type { Logger } from '../log.js';
import { certificateIdOf } from '../pki.js';
import { CERTIFICATE_STATUSES, type CertificateRecord, type RegionState, type TemplateRecord, type ThingRecord } from './region-state.js';
import {
  AwsServiceError,
  alreadyExists,
  certificateState,
  certificateValidation,
  deleteConflict,
  invalidRequest,
  notFound,
} from './service-error.js';
import {
  createTemplate,
  createTemplateSchema,
  createTemplateVersion,
  deleteTemplate,
  deleteTemplateVersion,
  requireTemplate,
  updateTemplate,
  updateTemplateSchema,
} from './templates.js';
import { closeServer, listen } from '../listen.js';
import { DATA_API_ROUTES } from './data-api.js';
import type { ShadowService } from './shadow.js';

/**
 * AWS IoT's control plane (the subset the product and its tests use), served over HTTP with the
 * REST paths, methods and JSON shapes of @aws-sdk/client-iot, so that the real client works
 * unchanged. The same endpoint serves the IoT data plane's HTTP API as
 * @aws-sdk/client-iot-data-plane calls it (data-api.ts: shadows and Publish). One endpoint serves
 * every emulated region; the region is read from the SigV4 credential scope of the request (or
 * from an `iot.<region>.` host name). Signatures are not verified: whatever credentials the
 * client has are accepted.
 */

export interface ControlPlaneRegion {
  readonly state: RegionState;
  /** What DescribeEndpoint answers for iot:Data-ATS. */
  readonly endpointHost: string;
  /** The region's Device Shadow service, for the data plane's HTTP API. */
  readonly shadows?: ShadowService;
  /** Publish through the region's data plane (the HTTP Publish API). */
  readonly publish?: (topic: string, payload: Buffer, qos: 0 | 1, retain: boolean) => void;
}

export interface ControlPlane {
  readonly url: string;
  close(): Promise<void>;
}

export interface Request {
  readonly region: ControlPlaneRegion;
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** The body as JSON (undefined when empty; a `raw` route's is not parsed). */
  readonly body: unknown;
  readonly raw: Buffer;
  readonly now: number;
}

type Handler = (request: Request) => unknown;

export interface Route {
  readonly method: string;
  readonly path: RegExp;
  readonly handler: Handler;
  /** The body is bytes the handler reads itself (a shadow document, a message). */
  readonly raw?: boolean;
}

const MAX_BODY_BYTES = 256 * 1024;
const CREDENTIAL_REGION = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/(?:iot|iotdata|execute-api)\/aws4_request/;
const HOST_REGION = /(?:^|\.)iot\.([a-z]{2}(?:-[a-z]+)+-\d)\./;

/** Smithy's default timestamp format for restJson1: epoch seconds. */
const seconds = (ms: number): number => ms / 1000;

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw invalidRequest(issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid request');
  }
  return result.data;
}

function maxResults(query: URLSearchParams, fallback: number, limit: number): number {
  const raw = query.get('maxResults');
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > limit) throw invalidRequest(`maxResults must be 1 to ${limit}`);
  return value;
}

/** Pages a sorted list; the token is the offset, opaque to callers. */
function page<T>(items: readonly T[], query: URLSearchParams, fallback: number, limit: number): { items: T[]; nextToken?: string } {
  const size = maxResults(query, fallback, limit);
  const token = query.get('nextToken');
  let start = 0;
  if (token) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0 || start > items.length) throw invalidRequest('invalid nextToken');
  }
  const slice = items.slice(start, start + size);
  const next = start + size;
  return { items: slice, ...(next < items.length ? { nextToken: Buffer.from(String(next)).toString('base64url') } : {}) };
}

function describeTemplate(t: TemplateRecord) {
  const version = t.versions.find((v) => v.versionId === t.defaultVersionId);
  return {
    templateArn: t.templateArn,
    templateName: t.templateName,
    ...(t.description !== undefined ? { description: t.description } : {}),
    creationDate: seconds(t.creationDate),
    lastModifiedDate: seconds(t.lastModifiedDate),
    defaultVersionId: t.defaultVersionId,
    templateBody: version?.templateBody ?? '',
    enabled: t.enabled,
    provisioningRoleArn: t.provisioningRoleArn,
    ...(t.preProvisioningHook ? { preProvisioningHook: t.preProvisioningHook } : {}),
    type: t.type,
  };
}

function describeThing(t: ThingRecord) {
  return {
    defaultClientId: t.thingName,
    thingName: t.thingName,
    thingId: t.thingId,
    thingArn: t.thingArn,
    ...(t.thingTypeName !== undefined ? { thingTypeName: t.thingTypeName } : {}),
    attributes: t.attributes,
    version: t.version,
    ...(t.billingGroupName !== undefined ? { billingGroupName: t.billingGroupName } : {}),
  };
}

function describeCertificate(c: CertificateRecord, accountId: string) {
  return {
    certificateArn: c.certificateArn,
    certificateId: c.certificateId,
    ...(c.caCertificateId ? { caCertificateId: c.caCertificateId } : {}),
    status: c.status,
    certificatePem: c.certificatePem,
    ownedBy: accountId,
    creationDate: seconds(c.creationDate),
    lastModifiedDate: seconds(c.lastModifiedDate),
    customerVersion: c.customerVersion,
    transferData: {},
    generationId: c.generationId,
    validity: { notBefore: seconds(c.notBefore), notAfter: seconds(c.notAfter) },
    certificateMode: c.certificateMode,
  };
}

const versionIdOf = (raw: string | undefined): number => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw invalidRequest('versionId must be a positive integer');
  return value;
};

export const param = (request: Request, index: number): string => decodeURIComponent(request.params[index] ?? '');

/** The id of a certificate ARN of this region, as the policy and principal APIs take it. */
function certificateIdOfArn(region: ControlPlaneRegion, arn: string, what: string): string {
  const match = /^arn:aws:iot:([a-z0-9-]+):\d{12}:cert\/([0-9a-f]{64})$/.exec(arn);
  if (!match || match[1] !== region.state.region) throw invalidRequest(`${what} must be the ARN of a certificate in this region`);
  return match[2] ?? '';
}

function requireCertificate(region: ControlPlaneRegion, id: string): CertificateRecord {
  const certificate = region.state.getCertificate(id);
  if (!certificate) throw notFound(`The certificate ${id} does not exist`);
  return certificate;
}

function requireThing(region: ControlPlaneRegion, thingName: string): ThingRecord {
  const thing = region.state.getThing(thingName);
  if (!thing) throw notFound(`Thing ${thingName} cannot be found.`);
  return thing;
}

/** DetachPolicy, ListAttachedPolicies, DetachThingPrincipal, DeleteCertificate, DeleteThing: what block, reset and verify undo. */
const DETACH_AND_DELETE_ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: /^\/target-policies\/([^/]+)$/,
    handler: (r) => {
      const input = parseBody(z.object({ target: z.string().min(1).max(2048) }), r.body);
      const id = certificateIdOfArn(r.region, input.target, 'target');
      requireCertificate(r.region, id);
      if (!r.region.state.getPolicy(param(r, 0))) throw notFound(`Policy ${param(r, 0)} does not exist`);
      r.region.state.detachPolicy(id, param(r, 0));
      return undefined;
    },
  },
  {
    method: 'POST',
    path: /^\/attached-policies\/([^/]+)$/,
    handler: (r) => {
      const id = certificateIdOfArn(r.region, param(r, 0), 'target');
      requireCertificate(r.region, id);
      const names = r.region.state.policyNamesOf(id).sort();
      const policies = names.map((policyName) => ({ policyName, policyArn: r.region.state.arn('policy', policyName) }));
      return { policies };
    },
  },
  {
    method: 'DELETE',
    path: /^\/things\/([^/]+)\/principals$/,
    handler: (r) => {
      const thing = requireThing(r.region, param(r, 0));
      const principal = r.headers['x-amzn-principal'];
      if (typeof principal !== 'string') throw invalidRequest('the principal (x-amzn-principal) is required');
      const id = certificateIdOfArn(r.region, principal, 'principal');
      r.region.state.detachThingPrincipal(thing.thingName, id);
      return {};
    },
  },
  {
    method: 'DELETE',
    path: /^\/certificates\/([^/]+)$/,
    handler: (r) => {
      const id = param(r, 0).toLowerCase();
      const outcome = r.region.state.removeCertificate(id, r.query.get('forceDelete') === 'true');
      if (outcome === 'absent') throw notFound(`The certificate ${id} does not exist`);
      if (outcome === 'active') throw certificateState('The certificate is ACTIVE; deactivate it before deleting it');
      if (outcome === 'attached-to-thing') throw deleteConflict('The certificate is attached to a thing; detach it first');
      if (outcome === 'has-policies') throw deleteConflict('The certificate has policies attached; detach them or force the deletion');
      return undefined;
    },
  },
  {
    method: 'DELETE',
    path: /^\/things\/([^/]+)$/,
    handler: (r) => {
      // AWS answers success for a thing that does not exist.
      if (r.region.state.removeThing(param(r, 0)) === 'has-principals') {
        throw invalidRequest(`Cannot delete thing ${param(r, 0)} which has attached principals`);
      }
      return {};
    },
  },
];

const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: /^\/endpoint$/,
    handler: ({ region, query }) => {
      const type = query.get('endpointType') ?? 'iot:Data';
      if (type !== 'iot:Data' && type !== 'iot:Data-ATS') {
        throw invalidRequest(`endpointType ${type} is not emulated; use iot:Data-ATS`);
      }
      return { endpointAddress: region.endpointHost };
    },
  },
  {
    method: 'POST',
    path: /^\/provisioning-templates$/,
    handler: ({ region, body, now }) => {
      const record = createTemplate(region.state, parseBody(createTemplateSchema, body), now);
      return { templateArn: record.templateArn, templateName: record.templateName, defaultVersionId: record.defaultVersionId };
    },
  },
  {
    method: 'GET',
    path: /^\/provisioning-templates$/,
    handler: ({ region, query }) => {
      const { items, nextToken } = page(region.state.listTemplates(), query, 25, 250);
      return {
        templates: items.map((t) => ({
          templateArn: t.templateArn,
          templateName: t.templateName,
          ...(t.description !== undefined ? { description: t.description } : {}),
          creationDate: seconds(t.creationDate),
          lastModifiedDate: seconds(t.lastModifiedDate),
          enabled: t.enabled,
          type: t.type,
        })),
        ...(nextToken ? { nextToken } : {}),
      };
    },
  },
  {
    method: 'GET',
    path: /^\/provisioning-templates\/([^/]+)$/,
    handler: (r) => describeTemplate(requireTemplate(r.region.state, param(r, 0))),
  },
  {
    method: 'PATCH',
    path: /^\/provisioning-templates\/([^/]+)$/,
    handler: (r) => {
      updateTemplate(r.region.state, param(r, 0), parseBody(updateTemplateSchema, r.body), r.now);
      return {};
    },
  },
  {
    method: 'DELETE',
    path: /^\/provisioning-templates\/([^/]+)$/,
    handler: (r) => {
      deleteTemplate(r.region.state, param(r, 0));
      return {};
    },
  },
  {
    method: 'POST',
    path: /^\/provisioning-templates\/([^/]+)\/versions$/,
    handler: (r) => {
      const { templateBody } = parseBody(z.object({ templateBody: z.string().min(1) }), r.body);
      const setAsDefault = r.query.get('setAsDefault') === 'true';
      const { record, versionId } = createTemplateVersion(r.region.state, param(r, 0), templateBody, setAsDefault, r.now);
      return {
        templateArn: record.templateArn,
        templateName: record.templateName,
        versionId,
        isDefaultVersion: record.defaultVersionId === versionId,
      };
    },
  },
  {
    method: 'GET',
    path: /^\/provisioning-templates\/([^/]+)\/versions$/,
    handler: (r) => {
      const record = requireTemplate(r.region.state, param(r, 0));
      const { items, nextToken } = page(record.versions, r.query, 25, 250);
      return {
        versions: items.map((v) => ({
          versionId: v.versionId,
          creationDate: seconds(v.creationDate),
          isDefaultVersion: v.versionId === record.defaultVersionId,
        })),
        ...(nextToken ? { nextToken } : {}),
      };
    },
  },
  {
    method: 'DELETE',
    path: /^\/provisioning-templates\/([^/]+)\/versions\/([^/]+)$/,
    handler: (r) => {
      deleteTemplateVersion(r.region.state, param(r, 0), versionIdOf(r.params[1]), r.now);
      return {};
    },
  },
  {
    method: 'GET',
    path: /^\/things\/([^/]+)$/,
    handler: (r) => {
      const thing = r.region.state.getThing(param(r, 0));
      if (!thing) throw notFound(`Thing ${param(r, 0)} cannot be found.`);
      return describeThing(thing);
    },
  },
  {
    // UpdateThing: the attributes, merged (an empty value removes one) or replaced.
    method: 'PATCH',
    path: /^\/things\/([^/]+)$/,
    handler: (r) => {
      const thing = requireThing(r.region, param(r, 0));
      const input = parseBody(
        z.object({
          attributePayload: z.object({ attributes: z.record(z.string(), z.string()).optional(), merge: z.boolean().optional() }).optional(),
          expectedVersion: z.number().int().optional(),
        }),
        r.body,
      );
      if (input.expectedVersion !== undefined && input.expectedVersion !== thing.version) {
        throw new AwsServiceError(409, 'VersionConflictException', `The version for thing ${thing.thingName} does not match the expected version.`);
      }
      const given = input.attributePayload?.attributes ?? {};
      const base = input.attributePayload?.merge ? { ...thing.attributes } : {};
      for (const [key, value] of Object.entries(given)) {
        if (value === '') delete base[key];
        else base[key] = value;
      }
      r.region.state.updateThingAttributes(thing.thingName, base);
      return {};
    },
  },
  {
    method: 'GET',
    path: /^\/things$/,
    handler: ({ region, query }) => {
      const attributeName = query.get('attributeName');
      const attributeValue = query.get('attributeValue');
      const thingTypeName = query.get('thingTypeName');
      const prefix = query.get('usePrefixAttributeValue') === 'true';
      const matching = region.state.listThings().filter((t) => {
        if (thingTypeName && t.thingTypeName !== thingTypeName) return false;
        if (attributeName) {
          const value = t.attributes[attributeName];
          if (value === undefined) return false;
          if (attributeValue !== null && !(prefix ? value.startsWith(attributeValue) : value === attributeValue)) return false;
        }
        return true;
      });
      const { items, nextToken } = page(matching, query, 50, 250);
      return {
        things: items.map((t) => ({
          thingName: t.thingName,
          ...(t.thingTypeName !== undefined ? { thingTypeName: t.thingTypeName } : {}),
          thingArn: t.thingArn,
          attributes: t.attributes,
          version: t.version,
        })),
        ...(nextToken ? { nextToken } : {}),
      };
    },
  },
  {
    method: 'GET',
    path: /^\/things\/([^/]+)\/principals$/,
    handler: (r) => {
      const thing = r.region.state.getThing(param(r, 0));
      if (!thing) throw notFound(`Thing ${param(r, 0)} cannot be found.`);
      const arns = thing.principals.map((id) => r.region.state.arn('cert', id));
      const { items, nextToken } = page(arns, r.query, 25, 250);
      return { principals: items, ...(nextToken ? { nextToken } : {}) };
    },
  },
  {
    method: 'GET',
    path: /^\/certificates\/([^/]+)$/,
    handler: (r) => {
      const certificate = r.region.state.getCertificate(param(r, 0).toLowerCase());
      if (!certificate) throw notFound(`The certificate ${param(r, 0)} does not exist`);
      return { certificateDescription: describeCertificate(certificate, r.region.state.accountId) };
    },
  },
  {
    method: 'PUT',
    path: /^\/certificates\/([^/]+)$/,
    handler: (r) => {
      const id = param(r, 0).toLowerCase();
      const status = z.enum(CERTIFICATE_STATUSES).safeParse(r.query.get('newStatus'));
      if (!status.success) throw invalidRequest('newStatus must be a certificate status');
      if (status.data === 'PENDING_TRANSFER' || status.data === 'PENDING_ACTIVATION') {
        throw invalidRequest(`${status.data} is a status AWS IoT sets itself`);
      }
      const certificate = r.region.state.getCertificate(id);
      if (!certificate) throw notFound(`The certificate ${id} does not exist`);
      if (certificate.status === 'REVOKED' && status.data !== 'REVOKED') throw certificateState('A revoked certificate cannot be changed');
      r.region.state.setCertificateStatus(id, status.data);
      return undefined;
    },
  },
  {
    // AttachPolicy: the target is a certificate ARN of this region.
    method: 'PUT',
    path: /^\/target-policies\/([^/]+)$/,
    handler: (r) => {
      const policyName = param(r, 0);
      const input = parseBody(z.object({ target: z.string().min(1).max(2048) }), r.body);
      const id = certificateIdOfArn(r.region, input.target, 'target');
      requireCertificate(r.region, id);
      if (!r.region.state.getPolicy(policyName)) throw notFound(`Policy ${policyName} does not exist`);
      r.region.state.attachPolicy(id, policyName);
      return undefined;
    },
  },
  {
    method: 'POST',
    path: /^\/certificate\/register-no-ca$/,
    handler: ({ region, body }) => {
      const input = parseBody(
        z.object({ certificatePem: z.string().min(1).max(65_536), status: z.enum(CERTIFICATE_STATUSES).optional() }),
        body,
      );
      let der: Buffer;
      try {
        der = new X509Certificate(input.certificatePem).raw;
      } catch (cause) {
        throw certificateValidation('certificatePem is not a valid X.509 certificate', { cause });
      }
      const certificateId = certificateIdOf(der);
      if (region.state.getCertificate(certificateId)) throw alreadyExists('The certificate is already registered');
      const record = region.state.addCertificate({
        certificateId,
        certificatePem: input.certificatePem,
        status: input.status ?? 'INACTIVE',
        certificateMode: 'SNI_ONLY',
      });
      return { certificateArn: record.certificateArn, certificateId };
    },
  },
];

const ALL_ROUTES: readonly Route[] = [...ROUTES, ...DETACH_AND_DELETE_ROUTES, ...DATA_API_ROUTES];

export async function startControlPlane(options: {
  regions: ReadonlyMap<string, ControlPlaneRegion>;
  host?: string;
  port?: number;
  now: () => number;
  log: Logger;
}): Promise<ControlPlane> {
  const { regions, log, now } = options;

  function regionOf(req: IncomingMessage): ControlPlaneRegion {
    const code = CREDENTIAL_REGION.exec(req.headers.authorization ?? '')?.[1] ?? HOST_REGION.exec(req.headers.host ?? '')?.[1];
    if (!code) throw new AwsServiceError(403, 'UnauthorizedException', 'the request is not signed (SigV4 credential scope missing)');
    const region = regions.get(code);
    if (!region) throw invalidRequest(`region ${code} is not emulated by this local cloud`);
    return region;
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new AwsServiceError(413, 'InvalidRequestException', 'request body too large');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  function parseJson(raw: Buffer): unknown {
    const text = raw.toString('utf8');
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw invalidRequest('the request body is not valid JSON', { cause });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    for (const route of ALL_ROUTES) {
      const match = route.path.exec(url.pathname);
      if (!match || route.method !== req.method) continue;
      const region = regionOf(req);
      const raw = await readBody(req);
      const body = route.raw ? undefined : parseJson(raw);
      const result = route.handler({ region, params: match.slice(1), query: url.searchParams, headers: req.headers, body, raw, now: now() });
      const text = result === undefined ? '' : JSON.stringify(result);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    throw new AwsServiceError(404, 'UnknownOperationException', `${req.method ?? ''} ${url.pathname} is not emulated`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const failure =
        error instanceof AwsServiceError ? error : new AwsServiceError(500, 'InternalFailureException', 'an internal error occurred', { cause: error });
      if (!(error instanceof AwsServiceError)) log.error('control plane failed', { error: describeError(error) });
      const text = JSON.stringify({ message: failure.message });
      res.writeHead(failure.status, {
        'content-type': 'application/json',
        'x-amzn-errortype': failure.type,
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    });
  });
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);
  return {
    url: `http://${host}:${port}`,
    close: () => closeServer(server),
  };
}
