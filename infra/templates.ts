/**
 * Provisioning templates are plain JSON files under infra/templates/ that operators edit; CDK
 * deploys them as they are. Each is checked at synth by the same engine the local cloud runs, so a
 * template that the emulator would refuse never reaches AWS either.
 */
import { ConfigError } from '@global-iot/core/errors.js';
import { parseTemplate, type ProvisioningTemplate } from '@global-iot/core/template/parse.js';

/** A template file failed validation; the message names the file and the JSON path. */
export class TemplateFileError extends ConfigError {
  override name = 'TemplateFileError';
}

export interface ProvisioningTemplateFile {
  readonly path: string;
  readonly name: string;
  /** The body exactly as deployed (AWS stores the string; whitespace counts toward its limit). */
  readonly body: string;
  readonly parsed: ProvisioningTemplate;
}

export interface LoadTemplateOptions {
  readonly path: string;
  readonly templateName: string;
  /** The device policy the regional stack creates; the template must attach it by this name. */
  readonly devicePolicyName: string;
  readonly readFile: (path: string) => string;
}

/**
 * The template may only attach the stack's device policy: a PolicyDocument in the template would
 * create a policy per device outside the stack's review and need iot:CreatePolicy on the role.
 */
function checkPolicies(file: string, parsed: ProvisioningTemplate, devicePolicyName: string): void {
  const policies = Object.entries(parsed.Resources).filter(([, resource]) => resource.Type === 'AWS::IoT::Policy');
  if (policies.length === 0) {
    throw new TemplateFileError(`${file}: the template attaches no policy; add an AWS::IoT::Policy resource with "PolicyName": "${devicePolicyName}"`);
  }
  for (const [id, resource] of policies) {
    if (resource.Type !== 'AWS::IoT::Policy') continue;
    if (resource.Properties.PolicyName !== devicePolicyName) {
      throw new TemplateFileError(
        `${file}: $.Resources.${id}.Properties.PolicyName must be "${devicePolicyName}" (infra.devicePolicyName), the policy the regional stack creates`,
      );
    }
  }
}

export function loadProvisioningTemplate(options: LoadTemplateOptions): ProvisioningTemplateFile {
  let body: string;
  try {
    body = options.readFile(options.path);
  } catch (cause) {
    throw new TemplateFileError(`infra.templateFile: cannot read ${options.path}`, { cause });
  }
  let parsed: ProvisioningTemplate;
  try {
    parsed = parseTemplate(body);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new TemplateFileError(`${options.path}: invalid provisioning template: ${detail}`, { cause });
  }
  checkPolicies(options.path, parsed, options.devicePolicyName);
  return { path: options.path, name: options.templateName, body, parsed };
}
