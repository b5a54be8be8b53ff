import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import { ConfigError } from './errors.js';

/**
 * What the product's Lambda functions (bootstrap, pre-provisioning hook, confirmation) record
 * about each invocation: one structured log line and one CloudWatch metrics document (EMF), both
 * made from the same record so they never disagree. On Lambda, Powertools' Logger and Metrics
 * write them; the local cloud and the tests take the records themselves.
 */

/** One invocation, as the function saw it. Nothing in it may be a key, a ticket or a signature. */
export interface InvocationRecord {
  /** The log line's message: what was decided ('bootstrap', 'provisioning-decision', ...). */
  readonly event: string;
  /** The answer: an error code, 'allow' or 'deny', 'confirmed'. Bounded: it is a metric dimension. */
  readonly outcome: string;
  /** The thing the invocation was about, once known. */
  readonly thing?: string;
  /** The caller's request id where there is one (API Gateway's, for the bootstrap). */
  readonly requestId?: string;
  readonly durationMs: number;
  /** Further keys of the log line (never a key, ticket or signature). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /**
   * Dimension sets the invocation is counted under (besides the service). Values must come from a
   * small fixed set, codes, reasons and regions: every distinct value is a metric of its own.
   */
  readonly dimensions: readonly Readonly<Record<string, string>>[];
}

export type InvocationRecorder = (record: InvocationRecord) => void;

/** The metrics every invocation adds, under each of its dimension sets. */
export const INVOCATION_METRICS = { count: 'Invocations', duration: 'Duration' } as const;

/** The log line's keys: request id, thing and outcome first, then the function's own, then the time. */
export function invocationLogFields(record: InvocationRecord): Record<string, unknown> {
  return {
    ...(record.requestId === undefined ? {} : { requestId: record.requestId }),
    ...(record.thing === undefined ? {} : { thing: record.thing }),
    outcome: record.outcome,
    ...record.fields,
    durationMs: Math.round(record.durationMs * 100) / 100,
  };
}

/** A recorder that only logs, through any logger with Powertools' `info(message, attributes)`. */
export function loggingRecorder(logger: { info(message: string, attributes: Record<string, unknown>): void }): InvocationRecorder {
  return (record) => logger.info(record.event, invocationLogFields(record));
}

/** CloudWatch's rule for namespaces: printable ASCII, and never AWS's own prefix. */
export const metricsNamespaceSchema = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, '1-255 printable ASCII characters')
  .refine((value) => !value.startsWith('AWS/'), 'namespaces starting with AWS/ are reserved for AWS');
/** A service name is the `service` key of every log line and a metric dimension. */
export const serviceNameSchema = z.string().regex(/^[A-Za-z0-9._/-]{1,128}$/, '1-128 characters of [A-Za-z0-9._/-]');

export const DEFAULT_METRICS_NAMESPACE = 'GlobalIotProvisioning';

export interface TelemetrySettings {
  /** `service` in every log line and metric (POWERTOOLS_SERVICE_NAME). */
  readonly serviceName: string;
  /** CloudWatch namespace of the metrics (POWERTOOLS_METRICS_NAMESPACE). */
  readonly metricsNamespace: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function readSetting(env: Env, key: string, schema: z.ZodType<string>, defaultValue: string): string {
  const raw = env[key];
  const parsed = schema.safeParse(raw === undefined || raw === '' ? defaultValue : raw);
  if (!parsed.success) throw new ConfigError(`${key} is invalid: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

/**
 * Reads the two settings under Powertools' own variable names (so that its documentation holds),
 * validated here once, with the function's service name as the default.
 */
export function readTelemetrySettings(env: Env, defaults: { serviceName: string }): TelemetrySettings {
  return {
    serviceName: readSetting(env, 'POWERTOOLS_SERVICE_NAME', serviceNameSchema, defaults.serviceName),
    metricsNamespace: readSetting(env, 'POWERTOOLS_METRICS_NAMESPACE', metricsNamespaceSchema, DEFAULT_METRICS_NAMESPACE),
  };
}

export interface LambdaTelemetry {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly record: InvocationRecorder;
}

/**
 * The Powertools Logger and Metrics of one function, built once per container. `record` writes
 * the invocation's log line and publishes its metrics at once: an invocation's figures never
 * wait for, or leak into, the next one.
 */
export function createLambdaTelemetry(settings: TelemetrySettings): LambdaTelemetry {
  const logger = new Logger({ serviceName: settings.serviceName });
  const metrics = new Metrics({ namespace: settings.metricsNamespace, serviceName: settings.serviceName, logger });
  const log = loggingRecorder(logger);
  const record: InvocationRecorder = (entry) => {
    log(entry);
    // The service alone first: totals and percentiles over every invocation, whatever its outcome.
    for (const set of [{}, ...entry.dimensions]) metrics.addDimensions({ ...set });
    metrics.addMetric(INVOCATION_METRICS.count, MetricUnit.Count, 1);
    metrics.addMetric(INVOCATION_METRICS.duration, MetricUnit.Milliseconds, entry.durationMs);
    metrics.publishStoredMetrics();
  };
  return { logger, metrics, record };
}
