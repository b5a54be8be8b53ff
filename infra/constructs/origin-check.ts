import { Duration } from 'aws-cdk-lib';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ORIGIN_CHECK_SERVICE_NAME, ORIGIN_VERIFY_HEADER } from '@global-iot/bootstrap-service/origin-check.js';
import { EDGE_REGION } from '../edge/settings.js';
import { ProvisioningFunction } from './provisioning-function.js';

/** The secret CloudFront sends in ORIGIN_VERIFY_HEADER; the edge stack creates it in EDGE_REGION. */
export function originSecretName(stackPrefix: string): string {
  return `${stackPrefix}/edge-origin-secret`;
}

export interface OriginCheckProps {
  readonly stackPrefix: string;
  readonly account: string;
  /** The origin check's settings (bootstrap-service/origin-check-handler.ts) besides the secret's place. */
  readonly environment: Readonly<Record<string, string>>;
  readonly entry: string;
  readonly logRetention: logs.RetentionDays;
  /** How long API Gateway keeps an answer for one header value. */
  readonly cacheTtl: Duration;
}

/**
 * The bootstrap API's Lambda authorizer when CloudFront is in front of it: only requests that carry
 * the edge's origin secret get through (bootstrap-service/origin-check.ts says why). API Gateway
 * answers 401 to a request without the header before invoking anything, and keeps each answer
 * for `cacheTtl` per header value.
 */
export class OriginCheck extends Construct {
  readonly fn: ProvisioningFunction;
  readonly authorizer: HttpLambdaAuthorizer;

  constructor(scope: Construct, id: string, props: OriginCheckProps) {
    super(scope, id);
    const secretName = originSecretName(props.stackPrefix);
    this.fn = new ProvisioningFunction(this, 'Function', {
      entry: props.entry,
      description: 'Bootstrap API authorizer: lets through only requests CloudFront forwarded (the edge origin secret)',
      memorySize: 256,
      timeout: Duration.seconds(5),
      logRetention: props.logRetention,
      environment: {
        ...props.environment,
        ORIGIN_SECRET_ID: secretName,
        ORIGIN_SECRET_REGION: EDGE_REGION,
        POWERTOOLS_SERVICE_NAME: ORIGIN_CHECK_SERVICE_NAME,
      },
    });
    // Secrets Manager appends six random characters to a secret's name in its ARN.
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [`arn:aws:secretsmanager:${EDGE_REGION}:${props.account}:secret:${secretName}-??????`],
      }),
    );
    this.authorizer = new HttpLambdaAuthorizer('OriginCheck', this.fn, {
      authorizerName: 'edge-origin-check',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: [`$request.header.${ORIGIN_VERIFY_HEADER}`],
      resultsCacheTtl: props.cacheTtl,
    });
  }
}
