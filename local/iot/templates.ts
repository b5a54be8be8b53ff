import * as z from 'zod';
import { HOOK_PAYLOAD_VERSION } from '@global-iot/core/provisioning-params.js';
import { isValidTemplateName, MAX_TEMPLATE_BODY_CHARS, parseTemplate, TemplateValidationError } from '@global-iot/core/template/index.js';
import type { PreProvisioningHook, RegionState, TemplateRecord } from './region-state.js';
import { alreadyExists, deleteConflict, invalidRequest, notFound, versionsLimitExceeded } from './service-error.js';

/**
 * Provisioning templates with AWS's rules, shared by the control plane and the local cloud's
 * start-up: names, body validation by the template engine, versions (at most 5, the default one
 * undeletable), the enabled flag (off unless asked for, as in AWS) and the hook settings.
 */

/** AWS: a template keeps at most 5 versions. */
export const MAX_TEMPLATE_VERSIONS = 5;

const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'not an IAM role ARN');
const lambdaArn = z.string().regex(/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$/, 'not a Lambda function ARN');

export const hookInputSchema = z.object({
  targetArn: lambdaArn,
  payloadVersion: z.string().optional(),
});

export const createTemplateSchema = z.object({
  templateName: z.string(),
  description: z.string().max(500).optional(),
  templateBody: z.string().min(1),
  enabled: z.boolean().optional(),
  provisioningRoleArn: roleArn,
  preProvisioningHook: hookInputSchema.optional(),
  tags: z.array(z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256).optional() })).max(50).optional(),
  type: z.enum(['FLEET_PROVISIONING', 'JITP']).optional(),
});
export type CreateTemplateInput = z.infer<typeof createTemplateSchema>;

export const updateTemplateSchema = z.object({
  description: z.string().max(500).optional(),
  enabled: z.boolean().optional(),
  defaultVersionId: z.number().int().positive().optional(),
  provisioningRoleArn: roleArn.optional(),
  preProvisioningHook: hookInputSchema.optional(),
  removePreProvisioningHook: z.boolean().optional(),
});
export type UpdateTemplateInput = z.infer<typeof updateTemplateSchema>;

function checkBody(body: string, type: TemplateRecord['type']): void {
  if (body.length > MAX_TEMPLATE_BODY_CHARS) {
    throw invalidRequest(`templateBody has ${body.length} characters; the limit is ${MAX_TEMPLATE_BODY_CHARS}`);
  }
  try {
    parseTemplate(body, { templateType: type });
  } catch (error) {
    if (error instanceof TemplateValidationError) throw invalidRequest(`invalid templateBody: ${error.message}`, { cause: error });
    throw error;
  }
}

function hookOf(input: z.infer<typeof hookInputSchema>): PreProvisioningHook {
  const payloadVersion = input.payloadVersion ?? HOOK_PAYLOAD_VERSION;
  if (payloadVersion !== HOOK_PAYLOAD_VERSION) throw invalidRequest(`payloadVersion must be ${HOOK_PAYLOAD_VERSION}`);
  return { targetArn: input.targetArn, payloadVersion };
}

export function requireTemplate(state: RegionState, templateName: string): TemplateRecord {
  const record = state.getTemplate(templateName);
  if (!record) throw notFound(`The provisioning template ${templateName} does not exist`);
  return record;
}

export function createTemplate(state: RegionState, input: CreateTemplateInput, now: number): TemplateRecord {
  if (!isValidTemplateName(input.templateName)) throw invalidRequest('templateName must be 1 to 36 characters of [0-9A-Za-z_-]');
  if (state.getTemplate(input.templateName)) throw alreadyExists(`The provisioning template ${input.templateName} already exists`);
  const type = input.type ?? 'FLEET_PROVISIONING';
  if (type === 'JITP' && input.preProvisioningHook) throw invalidRequest('JITP templates cannot have a pre-provisioning hook');
  checkBody(input.templateBody, type);
  const record: TemplateRecord = {
    templateName: input.templateName,
    templateArn: state.arn('provisioningtemplate', input.templateName),
    ...(input.description !== undefined ? { description: input.description } : {}),
    type,
    enabled: input.enabled ?? false,
    provisioningRoleArn: input.provisioningRoleArn,
    ...(input.preProvisioningHook ? { preProvisioningHook: hookOf(input.preProvisioningHook) } : {}),
    defaultVersionId: 1,
    nextVersionId: 2,
    versions: [{ versionId: 1, templateBody: input.templateBody, creationDate: now }],
    creationDate: now,
    lastModifiedDate: now,
    tags: input.tags ?? [],
  };
  state.putTemplate(record);
  return record;
}

export function updateTemplate(state: RegionState, templateName: string, input: UpdateTemplateInput, now: number): TemplateRecord {
  const record = requireTemplate(state, templateName);
  if (input.preProvisioningHook && input.removePreProvisioningHook) {
    throw invalidRequest('preProvisioningHook and removePreProvisioningHook cannot be used together');
  }
  if (input.defaultVersionId !== undefined && !record.versions.some((v) => v.versionId === input.defaultVersionId)) {
    throw notFound(`version ${input.defaultVersionId} of ${templateName} does not exist`);
  }
  if (input.preProvisioningHook && record.type === 'JITP') throw invalidRequest('JITP templates cannot have a pre-provisioning hook');
  const { preProvisioningHook: currentHook, ...rest } = record;
  const hook = input.removePreProvisioningHook ? undefined : input.preProvisioningHook ? hookOf(input.preProvisioningHook) : currentHook;
  const next: TemplateRecord = {
    ...rest,
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    ...(input.defaultVersionId !== undefined ? { defaultVersionId: input.defaultVersionId } : {}),
    ...(input.provisioningRoleArn !== undefined ? { provisioningRoleArn: input.provisioningRoleArn } : {}),
    ...(hook ? { preProvisioningHook: hook } : {}),
    lastModifiedDate: now,
  };
  state.putTemplate(next);
  return next;
}

export function createTemplateVersion(
  state: RegionState,
  templateName: string,
  templateBody: string,
  setAsDefault: boolean,
  now: number,
): { record: TemplateRecord; versionId: number } {
  const record = requireTemplate(state, templateName);
  if (record.versions.length >= MAX_TEMPLATE_VERSIONS) {
    throw versionsLimitExceeded(`The provisioning template ${templateName} already has ${MAX_TEMPLATE_VERSIONS} versions`);
  }
  checkBody(templateBody, record.type);
  const versionId = record.nextVersionId;
  const next: TemplateRecord = {
    ...record,
    versions: [...record.versions, { versionId, templateBody, creationDate: now }],
    nextVersionId: versionId + 1,
    defaultVersionId: setAsDefault ? versionId : record.defaultVersionId,
    lastModifiedDate: now,
  };
  state.putTemplate(next);
  return { record: next, versionId };
}

export function deleteTemplateVersion(state: RegionState, templateName: string, versionId: number, now: number): void {
  const record = requireTemplate(state, templateName);
  if (!record.versions.some((v) => v.versionId === versionId)) throw notFound(`version ${versionId} of ${templateName} does not exist`);
  if (record.defaultVersionId === versionId) throw deleteConflict('The default version of a provisioning template cannot be deleted');
  state.putTemplate({ ...record, versions: record.versions.filter((v) => v.versionId !== versionId), lastModifiedDate: now });
}

export function deleteTemplate(state: RegionState, templateName: string): void {
  requireTemplate(state, templateName);
  state.deleteTemplate(templateName);
}
