import { Annotations, type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type InfraConfig, loadInfraConfig } from './config.js';
import { PROJECT_ROOT } from './constructs/provisioning-function.js';
import { locateGeoTable } from './geo.js';
import { checkHandlerEntries, DEFAULT_HANDLER_ENTRIES, type HandlerEntries } from './handlers.js';
import { EdgeStack } from './stacks/edge-stack.js';
import { HomeStack } from './stacks/home-stack.js';
import { RegionalStack } from './stacks/regional-stack.js';

export interface DeploymentOptions {
  /**
   * The handler modules to bundle.
   * @default DEFAULT_HANDLER_ENTRIES (the real handlers)
   */
  readonly entries?: HandlerEntries;
  /**
   * Run cdk-nag's AwsSolutions pack at synth; any unacknowledged finding fails the synth.
   * @default true
   */
  readonly nag?: boolean;
  /**
   * Folder that relative paths in the configuration are resolved against.
   * @default the repository root
   */
  readonly baseDir?: string;
  /**
   * Environment read for CDK_DEFAULT_ACCOUNT.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Tags of every stack. CloudFormation copies stack tags to each resource that takes tags; with
 * the `@aws-cdk/core:explicitStackTags` flag, stack tags are set here, not with `Tags.of`.
 */
export const STACK_TAGS: Readonly<Record<string, string>> = { project: 'global-iot-provisioning' };

export interface Deployment {
  readonly config: InfraConfig;
  readonly home: HomeStack;
  /** By region, in the order of `regions` in the configuration. */
  readonly regional: ReadonlyMap<string, RegionalStack>;
  /** CloudFront and AWS WAF in front of the bootstrap, when `infra.edge` is set. */
  readonly edge?: EdgeStack;
}

/**
 * Adds the whole deployment to `app`: the home stack, then one regional stack per enabled region,
 * each depending on the home stack so `cdk deploy --all` keeps the order. Configuration errors are
 * thrown before any construct is made.
 */
export function defineDeployment(app: App, options: DeploymentOptions = {}): Deployment {
  const config = loadInfraConfig({
    context: (key) => app.node.tryGetContext(key),
    baseDir: options.baseDir ?? PROJECT_ROOT,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const entries = options.entries ?? DEFAULT_HANDLER_ENTRIES;
  checkHandlerEntries(entries);
  const geoTable = config.skipGeoDb ? undefined : locateGeoTable();
  const { deployment, settings } = config;

  const home = new HomeStack(app, `${settings.stackPrefix}-Home`, {
    env: { account: config.account, region: deployment.homeRegion },
    description: 'Global IoT provisioning: device registry, bootstrap API, ticket-signing key',
    terminationProtection: true,
    tags: { ...STACK_TAGS },
    config,
    entries,
    ...(geoTable === undefined ? {} : { geoTable }),
  });
  if (geoTable === undefined) {
    Annotations.of(home).addWarningV2('global-iot:no-geo-table', 'synthesised with skipGeoDb: the bootstrap bundle has no geolocation table; do not deploy it');
  }
  if (config.accountIsPlaceholder) {
    Annotations.of(home).addWarningV2('global-iot:placeholder-account', `account is the placeholder ${config.account}: set context "account" (or use credentials) before deploying`);
  }
  if (config.ticketKeysArePlaceholders) {
    Annotations.of(home).addWarningV2(
      'global-iot:placeholder-ticket-key',
      'ticketPublicKeys holds only the placeholder key, whose private half nobody has: every hook will refuse every ticket until you set your own (infra/README.md)',
    );
  }

  const regional = new Map<string, RegionalStack>();
  for (const region of deployment.regions) {
    const stack = new RegionalStack(app, `${settings.stackPrefix}-${region}`, {
      description: `Global IoT provisioning: fleet provisioning template and hook in ${region}`,
      // Removing a region is a decision (infra/README.md, "Removing a region"), never a slip.
      terminationProtection: true,
      tags: { ...STACK_TAGS },
      config,
      entries,
      region,
    });
    stack.addStackDependency(home, 'the hooks use the registry table that the home stack owns');
    regional.set(region, stack);
  }

  const edgeSettings = settings.edge;
  const edge =
    edgeSettings === undefined
      ? undefined
      : new EdgeStack(app, `${settings.stackPrefix}-Edge`, {
          description: 'Global IoT provisioning: CloudFront and AWS WAF in front of the bootstrap API',
          terminationProtection: true,
          tags: { ...STACK_TAGS },
          config,
          edge: edgeSettings,
          // A reference to the home stack: with the weak cross-stack references of cdk.json, an
          // output read with Fn::GetStackOutput, across regions too, and no export to pin.
          apiHost: home.apiHost,
        });

  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { config, home, regional, ...(edge === undefined ? {} : { edge }) };
}
