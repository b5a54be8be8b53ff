import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type AlarmContext, thresholdAlarm } from '../monitoring/alarm.js';
import type { AlarmSettings } from '../monitoring/alarm-settings.js';
import {
  ACCESS_LOG_METRICS,
  BOOTSTRAP_SERVICE_NAME,
  BOOTSTRAP_THROTTLED_OUTCOME,
  invocationsWith,
  type MetricScope,
} from '../monitoring/metrics.js';
import type { AlarmTopic } from './alarm-topic.js';

export interface BootstrapAlarmsProps {
  /** Alarm names start with this (`<stackPrefix>-bootstrap`). */
  readonly namePrefix: string;
  readonly metricsNamespace: string;
  readonly thresholds: AlarmSettings;
  readonly api: HttpApi;
  /** The API's JSON access log: the only place a 429 is told apart from other 4xx. */
  readonly accessLogs: logs.ILogGroup;
  readonly topic: AlarmTopic;
}

/** The figures of the bootstrap API the dashboard graphs and the alarms watch. */
export interface BootstrapFigures {
  readonly errorRate5xx: cloudwatch.MathExpression;
  readonly rate429: cloudwatch.MathExpression;
  readonly p99Latency: cloudwatch.Metric;
  readonly stageThrottled: cloudwatch.MathExpression;
  readonly requests: cloudwatch.Metric;
}

/**
 * The bootstrap API's alarms: 5xx and 429 rates, p99 latency, and requests API Gateway refused
 * itself (stage throttling). API Gateway counts 4xx and 5xx but not 429 alone, so a metric filter
 * on the access log counts the 429s; the bootstrap's own 429s (its admission limiter) come from
 * its metrics, and the difference is the stage's.
 */
export class BootstrapAlarms extends Construct {
  readonly figures: BootstrapFigures;
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: BootstrapAlarmsProps) {
    super(scope, id);
    const t = props.thresholds;
    const period = Duration.minutes(t.periodMinutes);
    const emf: MetricScope = { namespace: props.metricsNamespace, period };

    new logs.MetricFilter(this, 'Answered429', {
      logGroup: props.accessLogs,
      filterPattern: logs.FilterPattern.stringValue('$.status', '=', '429'),
      metricNamespace: props.metricsNamespace,
      metricName: ACCESS_LOG_METRICS.answered429,
      metricValue: '1',
    });
    const answered429 = new cloudwatch.Metric({
      namespace: props.metricsNamespace,
      metricName: ACCESS_LOG_METRICS.answered429,
      statistic: cloudwatch.Stats.SUM,
      period,
    });
    const requests = props.api.metricCount({ period, statistic: cloudwatch.Stats.SUM });
    // `id` names the counted metric inside the expression; a graph holding two rates needs two names.
    const rateOf = (id: string, counted: cloudwatch.IMetric, label: string) =>
      new cloudwatch.MathExpression({
        // Below minRequests a rate says nothing: one failure in two requests is not 50 % down.
        expression: `IF(requests >= ${t.minRequests}, 100 * FILL(${id}, 0) / requests, 0)`,
        usingMetrics: { requests, [id]: counted },
        label,
        period,
      });
    const figures: BootstrapFigures = {
      requests,
      errorRate5xx: rateOf('answered5xx', props.api.metricServerError({ period, statistic: cloudwatch.Stats.SUM }), '5xx %'),
      rate429: rateOf('answered429', answered429, '429 %'),
      p99Latency: props.api.metricLatency({ period, statistic: cloudwatch.Stats.p(99) }),
      stageThrottled: new cloudwatch.MathExpression({
        expression: 'IF(FILL(all429, 0) > FILL(own429, 0), FILL(all429, 0) - FILL(own429, 0), 0)',
        usingMetrics: { all429: answered429, own429: invocationsWith(emf, BOOTSTRAP_SERVICE_NAME, { Outcome: BOOTSTRAP_THROTTLED_OUTCOME }) },
        label: 'refused by the stage throttle',
        period,
      }),
    };
    this.figures = figures;

    const context: AlarmContext = { scope: this, namePrefix: props.namePrefix, thresholds: t, topic: props.topic };
    const alarm = (name: string, description: string, metric: cloudwatch.IMetric, threshold: number) =>
      thresholdAlarm(context, name, description, metric, threshold);
    this.alarms = [
      alarm('5xx-rate', `${t.bootstrap5xxPercent} % or more of bootstrap requests answered 5xx`, figures.errorRate5xx, t.bootstrap5xxPercent),
      alarm('429-rate', `${t.bootstrap429Percent} % or more of bootstrap requests answered 429 (stage throttle or admission limiter)`, figures.rate429, t.bootstrap429Percent),
      alarm('p99-latency', `p99 of the bootstrap API's latency reached ${t.bootstrapP99LatencyMs} ms`, figures.p99Latency, t.bootstrapP99LatencyMs),
      alarm(
        'api-throttled',
        'API Gateway refused bootstrap requests with its stage throttle (apiRateLimit / apiBurstLimit): a flood, or limits below the fleet\'s rate',
        figures.stageThrottled,
        t.apiThrottledRequests,
      ),
    ];
  }
}
