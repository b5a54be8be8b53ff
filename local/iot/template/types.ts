import type { OverrideAction, ScalarOverrideAction } from '@global-iot/core/template/types.js';

/* What evaluating a template for one RegisterThing produces, and the bounds on that work. */

/**
 * What happens to an existing thing's property when the template has no OverrideSettings for it.
 * AWS does not document a default; re-provisioning an existing thing is known to succeed, which
 * rules out FAIL, and DO_NOTHING is the least destructive of the rest.
 */
export const DEFAULT_OVERRIDE_ACTION: ScalarOverrideAction = 'DO_NOTHING';

/** OverrideSettings of a thing resource, keyed like the result (camelCase). */
export interface ThingOverrideSettings {
  readonly attributePayload?: OverrideAction;
  readonly thingTypeName?: ScalarOverrideAction;
  readonly thingGroups?: OverrideAction;
}

/** A thing as the registry holds it: what applyThingOverrides compares and produces. */
export interface ThingState {
  readonly thingName: string;
  readonly attributePayload: Readonly<Record<string, string>>;
  readonly thingTypeName?: string;
  readonly thingGroups: readonly string[];
  readonly billingGroup?: string;
}

export interface TemplateThing extends ThingState {
  readonly overrideSettings: ThingOverrideSettings;
}

export type CertificateStatus = 'ACTIVE' | 'INACTIVE';

export interface TemplateCertificate {
  readonly certificateId: string;
  readonly status: CertificateStatus;
  readonly overrideSettings: { readonly status?: ScalarOverrideAction };
}

/** An existing policy attached by name, or a policy document (compact JSON) to create. */
export type TemplatePolicy = { readonly policyName: string } | { readonly policyDocument: string };

export interface TemplateResult {
  readonly thing?: TemplateThing;
  readonly certificate?: TemplateCertificate;
  /** The first policy resource created, for callers that attach exactly one. */
  readonly policy?: TemplatePolicy;
  /** Every policy resource created, in template order (AWS allows several). */
  readonly policies: readonly TemplatePolicy[];
  readonly deviceConfiguration: Readonly<Record<string, string>>;
}

/** What one RegisterThing call knows besides the template. */
export interface EvaluationContext {
  /** Device parameters merged with the hook's parameterOverrides. */
  readonly parameters: Readonly<Record<string, string>>;
  /** The certificate being registered: source of `AWS::IoT::Certificate::Id`. */
  readonly certificateId: string;
  /** Its PEM: source of the other `AWS::IoT::Certificate::*` parameters (subject fields). */
  readonly certificatePem?: string;
  readonly region?: string;
  readonly accountId?: string;
}

/** Bounds on the work one evaluation may do, so a hostile template cannot exhaust the process. */
export interface EvaluationLimits {
  /** Nodes and intrinsic calls visited. */
  readonly maxSteps: number;
  /** Nesting of evaluation, counting Refs to other resources. */
  readonly maxDepth: number;
  /** Characters of all strings built by intrinsics, summed. */
  readonly maxOutputChars: number;
}

export const DEFAULT_EVALUATION_LIMITS: EvaluationLimits = {
  maxSteps: 20_000,
  maxDepth: 64,
  maxOutputChars: 200_000,
};
