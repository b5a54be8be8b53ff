/**
 * The metrics the product's functions publish (core/lambda-telemetry.ts: Powertools Metrics, EMF)
 * as CloudWatch sees them, for alarms and the dashboard. Values that are strings inside the
 * functions (outcomes, reasons) are pinned by test/infra/monitoring.test.ts against the real code.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { BOOTSTRAP_SERVICE_NAME } from '@global-iot/bootstrap-service/settings.js';
import { INVOCATION_METRICS } from '@global-iot/core/lambda-telemetry.js';
import { CONFIRM_SERVICE_NAME, HOOK_SERVICE_NAME } from '@global-iot/pre-provisioning-hook/settings.js';

export { BOOTSTRAP_SERVICE_NAME, CONFIRM_SERVICE_NAME, HOOK_SERVICE_NAME };

/** Powertools' dimension for the service name, present in every dimension set. */
export const SERVICE_DIMENSION = 'service';

/** The hook's outcome for a denied RegisterThing. */
export const HOOK_DENY_OUTCOME = 'deny';
/** Reasons the hook records for an allow; every other reason is a denial. */
export const HOOK_ALLOW_REASONS = ['allowed', 'repeated'] as const;
/** Reasons the hook records when it denied because something failed, not because the request was bad. */
export const HOOK_ERROR_REASONS = ['internal error', 'registry unavailable', 'deadline exceeded'] as const;
/** The bootstrap's own 429 (the admission limiter), as opposed to API Gateway's stage throttle. */
export const BOOTSTRAP_THROTTLED_OUTCOME = 'THROTTLED';

/** Metric names of the access-log metric filter (home stack). */
export const ACCESS_LOG_METRICS = { answered429: 'BootstrapApi429' } as const;

export interface MetricScope {
  /** CloudWatch namespace of the functions' metrics (`infra.metricsNamespace`). */
  readonly namespace: string;
  readonly period: Duration;
  /** For a dashboard in another region; alarms use their own region. */
  readonly region?: string;
}

/** One of the EMF metrics, under `service` and at most one more dimension. */
export function serviceMetric(
  scope: MetricScope,
  service: string,
  metricName: string,
  statistic: string,
  dimension?: Readonly<Record<string, string>>,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: scope.namespace,
    metricName,
    dimensionsMap: { [SERVICE_DIMENSION]: service, ...dimension },
    statistic,
    period: scope.period,
    ...(scope.region === undefined ? {} : { region: scope.region }),
  });
}

/** Invocations of a service counted under one dimension value (an outcome, a reason). */
export function invocationsWith(scope: MetricScope, service: string, dimension: Readonly<Record<string, string>>): cloudwatch.Metric {
  return serviceMetric(scope, service, INVOCATION_METRICS.count, cloudwatch.Stats.SUM, dimension);
}

/** CloudWatch SEARCH quotes a namespace that is not a plain word (`Six/Provisioning`). */
function quoted(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * Every value of one dimension of a service's invocations, one line each (outcomes, reasons),
 * without the values listed in `except`. A search, so that a new reason shows without a deploy.
 */
export function invocationsBy(scope: MetricScope, service: string, dimension: string, except: readonly string[] = []): cloudwatch.MathExpression {
  const exclusions = except.map((value) => ` NOT ${dimension}=${quoted(value)}`).join('');
  const schema = `{${quoted(scope.namespace)},${dimension},${SERVICE_DIMENSION}}`;
  const query = `${schema} ${SERVICE_DIMENSION}=${quoted(service)} MetricName=${quoted(INVOCATION_METRICS.count)}${exclusions}`;
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${query}', 'Sum', ${scope.period.toSeconds()})`,
    usingMetrics: {},
    label: '',
    period: scope.period,
    ...(scope.region === undefined ? {} : { searchRegion: scope.region }),
  });
}
