import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmTopicProps {
  /** Shown as the sender of the notifications. */
  readonly displayName: string;
  /**
   * Subscribed by e-mail; AWS sends a confirmation message first.
   * @default - no subscription: subscribe to the topic yourself (its ARN is an output)
   */
  readonly email?: string;
}

/**
 * Where a stack's alarms notify: one SNS topic per stack, since CloudWatch alarms notify topics of
 * their own region. HTTPS only. Not encrypted with a key: CloudWatch cannot publish to a topic
 * under the AWS managed SNS key, a customer key costs one per region, and a notification carries
 * alarm names and figures, no device data.
 */
export class AlarmTopic extends Construct {
  readonly topic: sns.Topic;
  private readonly action: actions.SnsAction;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: props.displayName, enforceSSL: true });
    if (props.email !== undefined) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    this.action = new actions.SnsAction(this.topic);
  }

  /** Notifies the topic when the alarm fires and when it recovers. */
  notify(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
  }
}
