import { Duration } from 'aws-cdk-lib';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** SQS keeps a message at most 14 days: as long as there is to look at a lost confirmation. */
const RETENTION = Duration.days(14);

/**
 * Receives of a failure before SQS moves it to the dead-letter queue: an operator reading the
 * queue without deleting (inspecting it in the console) must not lose the message.
 */
const MAX_RECEIVE_COUNT = 10;

/** The failure queue of every region has the same name, so the dashboard can find each. */
export function failureQueueName(stackPrefix: string): string {
  return `${stackPrefix}-confirmation-failures`;
}

/** The failure queue's own dead-letter queue. */
export function deadLetterQueueName(queueName: string): string {
  return `${queueName}-dlq`;
}

export interface ConfirmationFailuresProps {
  /** The function AWS IoT invokes asynchronously (the confirmation). */
  readonly fn: lambda.IFunction;
  /** Name of the failure queue, fixed so that the dashboard in the home region can graph it. */
  readonly queueName: string;
  /**
   * Further attempts Lambda makes after a failed asynchronous invocation.
   * @default 2 (Lambda's own default, made explicit)
   */
  readonly retryAttempts?: number;
}

/**
 * Where an asynchronous invocation goes when Lambda gives up on it: an encrypted SQS queue (with
 * a dead-letter queue of its own), set as the function's on-failure destination. Attached from
 * outside, so the function's own construct stays as it is.
 */
export class ConfirmationFailures extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly invokeConfig: lambda.EventInvokeConfig;

  constructor(scope: Construct, id: string, props: ConfirmationFailuresProps) {
    super(scope, id);
    const encrypted = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: RETENTION };
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', { ...encrypted, queueName: deadLetterQueueName(props.queueName) });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...encrypted,
      queueName: props.queueName,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    this.invokeConfig = new lambda.EventInvokeConfig(this, 'AsyncInvoke', {
      function: props.fn,
      onFailure: new destinations.SqsDestination(this.queue),
      retryAttempts: props.retryAttempts ?? 2,
    });
  }
}
