import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { BOOTSTRAP_SERVICE_NAME, DATA_ENDPOINTS_VARIABLE } from '@global-iot/bootstrap-service/settings.js';
import { ADMISSION_KEY, ADMISSION_TTL_ATTRIBUTE } from '@global-iot/core/admission/table.js';
import { REGISTRY_KEY } from '@global-iot/core/registry/schema.js';
import type { InfraConfig } from '../config.js';
import type { EdgeSettings } from '../edge/settings.js';
import { AlarmTopic } from '../constructs/alarm-topic.js';
import { ApiDomain } from '../constructs/api-domain.js';
import { BootstrapAlarms } from '../constructs/bootstrap-alarms.js';
import { webAclName } from '../constructs/edge-firewall.js';
import { failureQueueName } from '../constructs/confirmation-failures.js';
import { IotDataEndpoints } from '../constructs/iot-data-endpoints.js';
import { OperationsDashboard } from '../constructs/operations-dashboard.js';
import { OriginCheck } from '../constructs/origin-check.js';
import { ProvisioningFunction } from '../constructs/provisioning-function.js';
import { GEO_TABLE_RUNTIME_PATH, type GeoTableAsset } from '../geo.js';
import type { HandlerEntries } from '../handlers.js';

/** The path devices POST their bootstrap request to; the stack outputs the full URL. */
export const BOOTSTRAP_PATH = '/bootstrap';

/**
 * One line per request, request metadata only. HTTP APIs offer no variable for request or response
 * bodies, and none may be added: bodies carry tickets.
 */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  method: '$context.httpMethod',
  routeKey: '$context.routeKey',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatencyMs: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
};

export interface HomeStackProps extends StackProps {
  readonly config: InfraConfig;
  readonly entries: HandlerEntries;
  /** Absent only when synth skips the table (tests); such a stack must not be deployed. */
  readonly geoTable?: GeoTableAsset;
}

/**
 * The home region: the device registry, the bootstrap HTTPS API and its function, the secret
 * holding the ticket-signing key, the API's alarms and the deployment's dashboard; with the edge,
 * the API's origin check, and without it, the API's own name when one is configured. Deployed
 * first; the regional stacks use the table by name, the edge stack reads the API's host.
 */
export class HomeStack extends Stack {
  readonly table: dynamodb.Table;
  /** The admission limiter's counters (core/admission/), when admission is on. */
  readonly admissionTable?: dynamodb.Table;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly signingSecret: secretsmanager.Secret;
  readonly bootstrapFunction: ProvisioningFunction;
  /** The deploy-time lookups of the regions' iot:Data-ATS endpoints; absent when endpointOverrides names every region's. */
  readonly dataEndpoints: IotDataEndpoints | undefined;
  readonly accessLogs: logs.LogGroup;
  readonly alarmTopic: AlarmTopic;
  readonly alarms: BootstrapAlarms;
  readonly dashboard: OperationsDashboard;
  /** With the edge on: the API's authorizer that refuses requests not forwarded by CloudFront. */
  readonly originCheck: OriginCheck | undefined;
  /** Without the edge, with infra.bootstrapDomain: the API's custom domain. */
  readonly apiDomain: ApiDomain | undefined;
  /** The API's own host name, CloudFront's origin. */
  readonly apiHost: string;

  constructor(scope: Construct, id: string, props: HomeStackProps) {
    super(scope, id, props);
    const { deployment, settings } = props.config;
    const retention = settings.logRetentionDays as logs.RetentionDays;

    this.table = new dynamodb.Table(this, 'Registry', {
      tableName: deployment.tableName,
      partitionKey: { name: REGISTRY_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      // The AWS managed key (not a customer key) lets the hooks in other regions read the table
      // with IAM alone; its ARN is not known at synth, so a customer key could not be granted.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.signingSecret = new secretsmanager.Secret(this, 'TicketSigningKey', {
      secretName: `${settings.stackPrefix}/ticket-signing-key`,
      description:
        'Ed25519 ticket-signing key as JSON {"kid","privateKeyPem"}. Created with a random placeholder; write the real key with infra/scripts/ticket-key.ts (see infra/README.md).',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.signingSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The ticket key is rotated by the operator procedure in infra/README.md: the new public key must reach every regional stack (ticketPublicKeys) before the secret changes, which a Secrets Manager rotation function cannot do.',
    });
    const unnamed = deployment.regions.filter((region) => deployment.endpointOverrides[region] === undefined);
    this.dataEndpoints = unnamed.length === 0 ? undefined : new IotDataEndpoints(this, 'IotDataEndpoints', { regions: unnamed, logRetention: retention });
    this.bootstrapFunction = this.bootstrap(props, retention, this.dataEndpoints);
    this.admissionTable = this.admission(props, this.bootstrapFunction);

    this.api = new HttpApi(this, 'BootstrapApi', {
      apiName: `${settings.stackPrefix}-bootstrap`,
      description: 'Device bootstrap: region assignment and provisioning tickets',
      createDefaultStage: false,
    });
    this.originCheck = settings.edge === undefined ? undefined : this.originCheckOf(props, settings.edge, retention);
    this.addBootstrapRoute(this.originCheck);
    this.apiHost = `${this.api.apiId}.execute-api.${this.region}.${this.urlSuffix}`;
    this.accessLogs = new logs.LogGroup(this, 'BootstrapApiAccessLogs', { retention });
    this.stage = new HttpStage(this, 'BootstrapApiStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: settings.apiRateLimit, burstLimit: settings.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', {
      displayName: `${settings.stackPrefix} bootstrap alarms`,
      ...(settings.alarmEmail === undefined ? {} : { email: settings.alarmEmail }),
    });
    this.alarms = new BootstrapAlarms(this, 'Alarms', {
      namePrefix: `${settings.stackPrefix}-bootstrap`,
      metricsNamespace: settings.metricsNamespace,
      thresholds: settings.alarms,
      api: this.api,
      accessLogs: this.accessLogs,
      topic: this.alarmTopic,
    });
    this.dashboard = new OperationsDashboard(this, 'Operations', {
      dashboardName: `${settings.stackPrefix}-operations`,
      metricsNamespace: settings.metricsNamespace,
      thresholds: settings.alarms,
      bootstrap: this.alarms.figures,
      regions: deployment.regions.map((region) => ({ region, failureQueueName: failureQueueName(settings.stackPrefix) })),
      ...(settings.edge === undefined ? {} : { edgeWebAclName: webAclName(settings.stackPrefix) }),
    });

    // Without the edge, a configured name goes on the API itself; with it, on CloudFront.
    const domain = settings.edge === undefined ? settings.bootstrapDomain : undefined;
    this.apiDomain = domain === undefined ? undefined : new ApiDomain(this, 'ApiDomain', { domain, api: this.api, stage: this.stage });
    this.addOutputs(props.config);
  }

  /** The bootstrap function with its settings, its secrets and the registry it may use. */
  private bootstrap(props: HomeStackProps, retention: logs.RetentionDays, dataEndpoints: IotDataEndpoints | undefined): ProvisioningFunction {
    const { deployment, settings } = props.config;
    const environment: Record<string, string> = {
      REGISTRY_TABLE: deployment.tableName,
      BOOTSTRAP_CONFIG: JSON.stringify(deployment),
      TICKET_SIGNING_SECRET_ARN: this.signingSecret.secretArn,
      SECRET_CACHE_SECONDS: String(settings.secretCacheSeconds),
      GEO_DB_PATH: GEO_TABLE_RUNTIME_PATH,
      POWERTOOLS_SERVICE_NAME: BOOTSTRAP_SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace,
    };
    if (props.config.fleetPublicKeys.length > 0) environment.FLEET_PUBLIC_KEYS = JSON.stringify(props.config.fleetPublicKeys);
    if (dataEndpoints !== undefined) environment[DATA_ENDPOINTS_VARIABLE] = dataEndpoints.environmentValue();
    // The geolocation provider's key never enters the template or the function's settings: the
    // operator writes it into this secret, and the bootstrap reads it with the secret cache lifetime.
    const geoKeySecret =
      deployment.geoProvider === undefined
        ? undefined
        : new secretsmanager.Secret(this, 'GeoProviderApiKey', {
            secretName: `${settings.stackPrefix}/geo-provider-api-key`,
            description: 'API key of the ipstack-compatible geolocation provider (plain string); write it with aws secretsmanager put-secret-value.',
            removalPolicy: RemovalPolicy.RETAIN,
          });
    if (geoKeySecret) {
      environment.IPSTACK_API_KEY_SECRET_ARN = geoKeySecret.secretArn;
      Validations.of(geoKeySecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'A third-party API key cannot be rotated by a Secrets Manager rotation function; the operator replaces it when the provider issues a new one.',
      });
    }

    const fn = new ProvisioningFunction(this, 'Bootstrap', {
      entry: props.entries.bootstrap,
      description: 'Bootstrap API: verifies the device, picks its region, issues a provisioning ticket',
      memorySize: 512,
      timeout: Duration.seconds(10),
      logRetention: retention,
      environment,
      ...(dataEndpoints === undefined ? {} : { environmentMaxBytes: { [DATA_ENDPOINTS_VARIABLE]: dataEndpoints.environmentMaxBytes() } }),
      bundledFiles: props.geoTable === undefined ? [] : [props.geoTable.file],
    });
    this.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    this.signingSecret.grantRead(fn);
    geoKeySecret?.grantRead(fn);
    return fn;
  }

  /** The admission counters every bootstrap instance shares, when admission is on. */
  private admission(props: HomeStackProps, fn: ProvisioningFunction): dynamodb.Table | undefined {
    const { admission } = props.config.deployment;
    if (!admission.enabled) return undefined;
    const table = new dynamodb.Table(this, 'AdmissionCounters', {
      tableName: admission.tableName,
      partitionKey: { name: ADMISSION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // A counter is read only in its own second; TTL deletes it after counterTtlSeconds.
      timeToLiveAttribute: ADMISSION_TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason: 'Per-second admission counters, deleted by TTL within counterTtlSeconds: there is nothing to recover to a point in time.',
    });
    table.grant(fn, 'dynamodb:UpdateItem');
    return table;
  }

  /** With the edge: the authorizer that lets through only what CloudFront forwarded. */
  private originCheckOf(props: HomeStackProps, edge: EdgeSettings, retention: logs.RetentionDays): OriginCheck {
    const { settings } = props.config;
    return new OriginCheck(this, 'OriginCheck', {
      stackPrefix: settings.stackPrefix,
      account: props.config.account,
      entry: props.entries.originCheck,
      environment: { SECRET_CACHE_SECONDS: String(settings.secretCacheSeconds), POWERTOOLS_METRICS_NAMESPACE: settings.metricsNamespace },
      logRetention: retention,
      cacheTtl: Duration.seconds(edge.originCheckCacheSeconds),
    });
  }

  /** The one route, `POST /bootstrap`; behind the origin check when the edge is on. */
  private addBootstrapRoute(originCheck: OriginCheck | undefined): void {
    const routes = this.api.addRoutes({
      path: BOOTSTRAP_PATH,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('BootstrapIntegration', this.bootstrapFunction),
      ...(originCheck === undefined ? {} : { authorizer: originCheck.authorizer }),
    });
    if (originCheck !== undefined) return;
    for (const route of routes) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Devices have no AWS identity before they are provisioned; the bootstrap function authenticates each request by its signature over thing name and timestamp, and the stage is throttled.',
      });
    }
  }

  private addOutputs(config: InfraConfig): void {
    const { settings } = config;
    const direct = `${this.api.apiEndpoint}${BOOTSTRAP_PATH}`;
    new CfnOutput(this, 'BootstrapUrl', {
      value: direct,
      description: settings.edge === undefined ? "The API's own URL" : "The API's own URL: CloudFront's origin; it refuses requests that did not come through CloudFront",
    });
    // With the edge, the edge stack outputs the URL devices carry.
    if (settings.edge === undefined) {
      const domain = settings.bootstrapDomain;
      new CfnOutput(this, 'DeviceBootstrapUrl', {
        value: domain === undefined ? direct : `https://${domain.name}${BOOTSTRAP_PATH}`,
        description:
          domain === undefined
            ? "The URL devices carry: the API's generated name, lost if the API is replaced (set infra.bootstrapDomain for a stable one)"
            : 'The URL devices carry: a name of your own on the API',
      });
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topic.topicArn, description: 'Alarms of the bootstrap API notify this SNS topic' });
    new CfnOutput(this, 'RegistryTableName', { value: this.table.tableName });
    new CfnOutput(this, 'TicketSigningSecretArn', {
      value: this.signingSecret.secretArn,
      description: 'Write the Ed25519 ticket key here: npx tsx infra/scripts/ticket-key.ts',
    });
  }
}
