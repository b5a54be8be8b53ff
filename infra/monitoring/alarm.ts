import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { AlarmTopic } from '../constructs/alarm-topic.js';
import type { AlarmSettings } from './alarm-settings.js';

/** What every alarm of a construct shares. */
export interface AlarmContext {
  readonly scope: Construct;
  /** Alarm names start with this, so that they sort by stack and region. */
  readonly namePrefix: string;
  readonly thresholds: AlarmSettings;
  readonly topic: AlarmTopic;
}

/**
 * An alarm that fires when its figure reaches the threshold and notifies the topic both ways.
 * No data is no problem: a quiet region or an idle API must not alarm.
 */
export function thresholdAlarm(
  context: AlarmContext,
  name: string,
  description: string,
  metric: cloudwatch.IMetric,
  threshold: number,
): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(context.scope, name, {
    alarmName: `${context.namePrefix}-${name}`,
    alarmDescription: description,
    metric,
    threshold,
    evaluationPeriods: context.thresholds.evaluationPeriods,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  context.topic.notify(alarm);
  return alarm;
}
