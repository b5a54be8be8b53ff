import {
  AwsRejected,
  BootstrapRejected,
  BootstrapUnavailable,
  BootstrapUntrusted,
  MqttConnectFailed,
  MqttRequestFailed,
  NoRegionAnswered,
  StepFailed,
} from '@global-iot/device/errors.js';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { confirmationTopic } from '@global-iot/core/confirmation.js';
import type { RegionFacts } from './region-checks.js';

/**
 * The likely cause of a failed step of the throwaway device's run, in the operator's terms: what
 * the device received, read together with what the region's checks found (a RegisterThing denied
 * while the hook's permission is missing is the permission, not the ticket).
 */

export interface DiagnosisContext {
  readonly config: DeploymentConfig;
  readonly facts: RegionFacts;
}

function bootstrap(cause: unknown): string {
  if (cause instanceof BootstrapUntrusted) return "the bootstrap's TLS certificate is not trusted: --ca, or the host name of --bootstrap-url";
  if (cause instanceof BootstrapRejected) {
    if (cause.code === 'UNAUTHORIZED') {
      return 'the bootstrap does not know the device ops just enrolled: it reads another registry (tableName, homeRegion) than --config names';
    }
    if (cause.code === 'REQUEST_EXPIRED') return "the bootstrap refuses the request's time: this machine's clock is off by more than timestampSkewSeconds";
    return `the bootstrap refused the throwaway device (${cause.status} ${cause.code}): see the bootstrap function's log`;
  }
  if (cause instanceof BootstrapUnavailable) {
    if (cause.lastStatus === 429) return 'the bootstrap throttles: the API stage limit (infra.apiRateLimit) or admission (admission.*)';
    if (cause.lastStatus !== undefined) return `the bootstrap fails (${cause.lastStatus}): see the bootstrap function's log (secrets, geolocation table, registry access)`;
    return 'the bootstrap URL does not answer: --bootstrap-url (the home stack output), the API stage, DNS';
  }
  return "the bootstrap's answer was not understood: is --bootstrap-url this deployment's bootstrap route?";
}

function connect(cause: unknown, context: DiagnosisContext): string {
  if (cause instanceof NoRegionAnswered || (cause instanceof MqttConnectFailed && cause.kind === 'unreachable')) {
    return `the data endpoint ${context.facts.endpointHost ?? ''} does not answer MQTT: see the data endpoint check (DNS, network, endpointOverrides)`;
  }
  if (context.facts.claimActive === false) return 'the claim certificate is not usable in this region: see the claim certificate check';
  return `the claim certificate may not connect as ${context.config.claimClientIdPrefix}<thing>: the claim policy's iot:Connect (claimClientIdPrefix must match the deployed claim policy)`;
}

function registerThing(cause: unknown, context: DiagnosisContext): string {
  const { facts, config } = context;
  if (!(cause instanceof AwsRejected)) return 'RegisterThing got no answer: the template topics in the claim policy, or the region is overloaded';
  if (facts.templateEnabled === false) return 'the template is disabled: see the template enabled check';
  if (cause.statusCode === 404) return `the template ${config.templateName} does not exist here (templateName)`;
  if (cause.statusCode === 429) return 'RegisterThing is throttled: the account quota in this region';
  if (cause.statusCode === 403) {
    if (facts.hookPermitted === false) return 'RegisterThing AccessDenied: AWS IoT cannot invoke the hook (see the hook permission check)';
    return "RegisterThing AccessDenied with a valid ticket: the hook's permission or the provisioning role (the hook's log says whether it ran, and why it denied)";
  }
  return `the template refuses the device's parameters (${cause.statusCode ?? '?'} ${cause.errorCode ?? ''}): the template body`;
}

function confirm(cause: unknown, context: DiagnosisContext): string {
  if (cause instanceof MqttConnectFailed) {
    return "the new certificate may not connect as its thing: the device policy's iot:Connect, or the template's Thing and Policy resources";
  }
  if (cause instanceof MqttRequestFailed) {
    return `the device policy does not let the device publish to ${confirmationTopic(context.config.confirmationRuleName)} (confirmationRuleName must match the deployed rule)`;
  }
  return 'the confirmation publish failed';
}

/** The likely cause of a failed step, from the device's error. */
export function diagnoseStep(step: string, error: unknown, context: DiagnosisContext): string {
  const cause = error instanceof StepFailed ? error.cause : error;
  switch (step) {
    case 'bootstrap':
      return bootstrap(cause);
    case 'connect':
      return connect(cause, context);
    case 'create-certificate':
      return cause instanceof AwsRejected
        ? `AWS IoT refused CreateCertificateFromCsr (${cause.statusCode ?? '?'} ${cause.errorCode ?? ''}): the claim policy's certificates/create-from-csr topics`
        : 'CreateCertificateFromCsr got no answer: the claim policy must let the claim subscribe to and receive the answer topics';
    case 'register-thing':
      return registerThing(cause, context);
    case 'confirm':
      return confirm(cause, context);
    default:
      return `the device failed at ${step}`;
  }
}

/** The registry did not record the confirmation in time, though AWS IoT took the device's publish. */
export function diagnoseConfirmation(context: DiagnosisContext): string {
  return (
    `the confirmation rule ${context.config.confirmationRuleName} or its function: missing, disabled, not allowed to invoke ` +
    "the function, or the function failing (its log, and its failure queue)"
  );
}
