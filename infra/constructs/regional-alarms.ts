import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type AlarmContext, thresholdAlarm } from '../monitoring/alarm.js';
import type { AlarmSettings } from '../monitoring/alarm-settings.js';
import { HOOK_DENY_OUTCOME, HOOK_ERROR_REASONS, HOOK_SERVICE_NAME, invocationsWith, type MetricScope } from '../monitoring/metrics.js';
import type { AlarmTopic } from './alarm-topic.js';

export interface RegionalAlarmsProps {
  /** Alarm names start with this (`<stackPrefix>-<region>`), so that they sort by region. */
  readonly namePrefix: string;
  readonly metricsNamespace: string;
  readonly thresholds: AlarmSettings;
  readonly hookFunction: lambda.IFunction;
  readonly confirmFunction: lambda.IFunction;
  readonly failureQueue: sqs.IQueue;
  readonly topic: AlarmTopic;
}

/** The alarms of one IoT region: the hook (duration, errors, denials) and the confirmation. */
export class RegionalAlarms extends Construct {
  readonly hookDuration: cloudwatch.Alarm;
  readonly hookErrors: cloudwatch.Alarm;
  readonly hookDenials: cloudwatch.Alarm;
  readonly confirmationFailures: cloudwatch.Alarm;
  readonly failureQueueDepth: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RegionalAlarmsProps) {
    super(scope, id);
    const t = props.thresholds;
    const period = Duration.minutes(t.periodMinutes);
    const emf: MetricScope = { namespace: props.metricsNamespace, period };
    const context: AlarmContext = { scope: this, namePrefix: props.namePrefix, thresholds: t, topic: props.topic };
    const alarm = (name: string, description: string, metric: cloudwatch.IMetric, threshold: number) =>
      thresholdAlarm(context, name, description, metric, threshold);

    this.hookDuration = alarm(
      'hook-duration',
      `p99 of the pre-provisioning hook's duration reached ${t.hookP99DurationMs} ms; AWS IoT denies RegisterThing when the hook takes 5 s`,
      props.hookFunction.metricDuration({ statistic: cloudwatch.Stats.p(99), period }),
      t.hookP99DurationMs,
    );
    const errorReasons = Object.fromEntries(
      HOOK_ERROR_REASONS.map((reason, i) => [`r${i}`, invocationsWith(emf, HOOK_SERVICE_NAME, { Reason: reason })]),
    );
    this.hookErrors = alarm(
      'hook-errors',
      'The hook crashed, or denied because the registry was unavailable, the deadline passed or an internal error occurred: devices with valid tickets are refused',
      new cloudwatch.MathExpression({
        expression: ['FILL(crashes, 0)', ...Object.keys(errorReasons).map((k) => `FILL(${k}, 0)`)].join(' + '),
        usingMetrics: { crashes: props.hookFunction.metricErrors({ period }), ...errorReasons },
        label: 'hook errors',
        period,
      }),
      t.hookErrors,
    );
    this.hookDenials = alarm(
      'hook-denials',
      'Many RegisterThing requests denied: expired or foreign tickets, devices retrying without a new ticket, or someone trying the claim certificate',
      invocationsWith(emf, HOOK_SERVICE_NAME, { Outcome: HOOK_DENY_OUTCOME }),
      t.hookDenials,
    );
    this.confirmationFailures = alarm(
      'confirmation-failures',
      'The confirmation function threw (the registry was unavailable); Lambda retries, then sends the event to the failure queue',
      props.confirmFunction.metricErrors({ period }),
      t.confirmationFailures,
    );
    this.failureQueueDepth = alarm(
      'confirmation-failure-queue',
      'Confirmations Lambda gave up on wait in the failure queue; each message holds the event, so it names the device and its certificate',
      props.failureQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
      t.failureQueueDepth,
    );
  }
}
