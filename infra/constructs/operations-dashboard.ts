import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { AlarmSettings } from '../monitoring/alarm-settings.js';
import { HOOK_LIMIT_MS } from '../monitoring/alarm-settings.js';
import {
  BOOTSTRAP_SERVICE_NAME,
  CONFIRM_SERVICE_NAME,
  HOOK_ALLOW_REASONS,
  HOOK_SERVICE_NAME,
  invocationsBy,
  type MetricScope,
  serviceMetric,
} from '../monitoring/metrics.js';
import type { BootstrapFigures } from './bootstrap-alarms.js';
import { deadLetterQueueName } from './confirmation-failures.js';
import { EDGE_REGION } from '../edge/settings.js';

export interface OperationsDashboardProps {
  readonly dashboardName: string;
  readonly metricsNamespace: string;
  readonly thresholds: AlarmSettings;
  readonly bootstrap: BootstrapFigures;
  /** The IoT regions, each with the name of its confirmation failure queue. */
  readonly regions: readonly { readonly region: string; readonly failureQueueName: string }[];
  /** With the edge on: the name of its web ACL, graphed from EDGE_REGION. */
  readonly edgeWebAclName?: string;
}

const WIDTH = 6;
const HEIGHT = 6;

/**
 * One dashboard for the whole deployment, in the home region: the bootstrap API, then one row per
 * IoT region. Regional graphs name their region (CloudWatch dashboards read any region) and come
 * from the functions' own metrics and fixed queue names, so the home stack needs nothing from the
 * regional stacks and can be deployed first.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const t = props.thresholds;
    const period = Duration.minutes(t.periodMinutes);
    const line = (label: string, value: number): cloudwatch.HorizontalAnnotation => ({ label, value, color: cloudwatch.Color.RED });
    const graph = (title: string, left: cloudwatch.IMetric[], annotations: cloudwatch.HorizontalAnnotation[] = [], region?: string) =>
      new cloudwatch.GraphWidget({
        title,
        left,
        leftAnnotations: annotations,
        width: WIDTH,
        height: HEIGHT,
        period,
        ...(region === undefined ? {} : { region }),
      });

    const home: MetricScope = { namespace: props.metricsNamespace, period };
    const b = props.bootstrap;
    const rows: cloudwatch.IWidget[][] = [
      [
        new cloudwatch.TextWidget({
          markdown: '## Bootstrap API\nRates are 0 below `minRequests` requests a period. Alarms: `<stackPrefix>-bootstrap-*`; regions: `<stackPrefix>-<region>-*`.',
          width: 24,
          height: 2,
        }),
      ],
      [
        graph('Requests', [b.requests]),
        graph('5xx and 429, % of requests', [b.errorRate5xx, b.rate429], [line('5xx alarm', t.bootstrap5xxPercent), line('429 alarm', t.bootstrap429Percent)]),
        graph('Latency p99 (ms)', [b.p99Latency], [line('alarm', t.bootstrapP99LatencyMs)]),
        graph('Answers by code; refused by the stage throttle', [invocationsBy(home, BOOTSTRAP_SERVICE_NAME, 'Outcome'), b.stageThrottled], [line('throttle alarm', t.apiThrottledRequests)]),
      ],
    ];
    if (props.edgeWebAclName !== undefined) rows.push([this.edgeRow(props.edgeWebAclName, period)]);
    for (const { region, failureQueueName } of props.regions) {
      const here: MetricScope = { ...home, region };
      const queueDepth = (queueName: string, label: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/SQS',
          metricName: 'ApproximateNumberOfMessagesVisible',
          dimensionsMap: { QueueName: queueName },
          statistic: cloudwatch.Stats.MAXIMUM,
          period,
          region,
          label,
        });
      rows.push([
        graph(`${region}: hook denials by reason`, [invocationsBy(here, HOOK_SERVICE_NAME, 'Reason', HOOK_ALLOW_REASONS)], [line('alarm (all reasons)', t.hookDenials)], region),
        graph(
          `${region}: hook duration p99 (ms)`,
          [serviceMetric(here, HOOK_SERVICE_NAME, 'Duration', cloudwatch.Stats.p(99))],
          [line('alarm', t.hookP99DurationMs), line('AWS IoT limit', HOOK_LIMIT_MS)],
          region,
        ),
        graph(`${region}: confirmations by outcome`, [invocationsBy(here, CONFIRM_SERVICE_NAME, 'Outcome')], [], region),
        graph(
          `${region}: confirmation failures waiting`,
          [queueDepth(failureQueueName, 'failure queue'), queueDepth(deadLetterQueueName(failureQueueName), 'its dead-letter queue')],
          [line('alarm', t.failureQueueDepth)],
          region,
        ),
      ]);
    }
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
      widgets: rows,
    });
  }

  /** AWS WAF's requests at the edge, allowed and blocked (the rate limit), found by web ACL name. */
  private edgeRow(webAcl: string, period: Duration): cloudwatch.GraphWidget {
    const search = (metricName: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('Namespace="AWS/WAFV2" MetricName="${metricName}" WebACL="${webAcl}"', 'Sum', ${period.toSeconds()})`,
        usingMetrics: {},
        label,
        period,
        searchRegion: EDGE_REGION,
      });
    return new cloudwatch.GraphWidget({
      title: 'Edge (AWS WAF): allowed and blocked requests',
      left: [search('AllowedRequests', 'allowed'), search('BlockedRequests', 'blocked')],
      width: 24,
      height: HEIGHT,
      period,
      region: EDGE_REGION,
    });
  }
}
