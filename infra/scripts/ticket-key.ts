/**
 * Operator tool for the ticket-signing key (Ed25519) held in the home stack's secret.
 *
 *   npx tsx infra/scripts/ticket-key.ts create  --secret-id <arn|name> --region <home> --kid <id>
 *   npx tsx infra/scripts/ticket-key.ts promote --secret-id <arn|name> --region <home>
 *   npx tsx infra/scripts/ticket-key.ts public-key --secret-id <arn|name> --region <home> [--stage AWSPENDING]
 *
 * `create` makes a key pair in memory and stores the private half as the secret's AWSPENDING
 * version: the bootstrap keeps signing with the AWSCURRENT key. It prints only the public half,
 * for `ticketPublicKeys`. Once every regional stack trusts it, `promote` makes it AWSCURRENT.
 * The private key is never printed or written to disk.
 */
import { generateKeyPairSync, createPublicKey, randomUUID } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { ConfigError } from '@global-iot/core/errors.js';
import { parseTicketSigningSecret, TICKET_KID_PATTERN } from '@global-iot/core/ticket.js';

export class TicketKeyError extends ConfigError {
  override name = 'TicketKeyError';
}


export interface NewTicketKey {
  readonly kid: string;
  /** The secret's value: JSON {kid, privateKeyPem}, the form the bootstrap reads. */
  readonly secretString: string;
  readonly publicKeyPem: string;
}

export function generateTicketKey(kid: string): NewTicketKey {
  if (!TICKET_KID_PATTERN.test(kid)) throw new TicketKeyError(`--kid must be 1-64 characters of [A-Za-z0-9._-], got '${kid}'`);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    kid,
    secretString: JSON.stringify({ kid, privateKeyPem }),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The public half of a stored ticket key, with its key id; read as the bootstrap reads it. */
export function publicKeyFromSecret(secretString: string): { kid: string; publicKeyPem: string } {
  const { kid, privateKey } = parseTicketSigningSecret(secretString);
  return { kid, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
}

/** Which versions hold AWSCURRENT and AWSPENDING, from DescribeSecret's VersionIdsToStages. */
export function stagedVersions(versionIdsToStages: Record<string, string[]>): { current?: string; pending?: string } {
  const find = (stage: string): string | undefined => Object.entries(versionIdsToStages).find(([, stages]) => stages.includes(stage))?.[0];
  const current = find('AWSCURRENT');
  const pending = find('AWSPENDING');
  return { ...(current === undefined ? {} : { current }), ...(pending === undefined ? {} : { pending }) };
}

/** The snippet an operator merges into `ticketPublicKeys` (cdk.json or the config file). */
export function ticketPublicKeysSnippet(kid: string, publicKeyPem: string): string {
  return JSON.stringify({ [kid]: publicKeyPem }, null, 2);
}

interface Target {
  secretId: string;
  region: string;
}

async function create(client: SecretsManagerClient, target: Target, kid: string): Promise<void> {
  const key = generateTicketKey(kid);
  const out = await client.send(
    new PutSecretValueCommand({
      SecretId: target.secretId,
      SecretString: key.secretString,
      VersionStages: ['AWSPENDING'],
      ClientRequestToken: randomUUID(),
    }),
  );
  process.stdout.write(
    `Stored ticket key '${kid}' as AWSPENDING (version ${out.VersionId ?? 'unknown'}).\n` +
      'Add this to ticketPublicKeys, deploy every regional stack, then run `promote`:\n\n' +
      `${ticketPublicKeysSnippet(kid, key.publicKeyPem)}\n`,
  );
}

async function promote(client: SecretsManagerClient, target: Target): Promise<void> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: target.secretId }));
  const { current, pending } = stagedVersions(described.VersionIdsToStages ?? {});
  if (pending === undefined) throw new TicketKeyError('the secret has no AWSPENDING version; run `create` first');
  const value = await client.send(new GetSecretValueCommand({ SecretId: target.secretId, VersionStage: 'AWSPENDING' }));
  const { kid } = publicKeyFromSecret(value.SecretString ?? '');
  await client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: target.secretId,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: pending,
      ...(current === undefined ? {} : { RemoveFromVersionId: current }),
    }),
  );
  await client.send(new UpdateSecretVersionStageCommand({ SecretId: target.secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: pending }));
  process.stdout.write(
    `Ticket key '${kid}' is now AWSCURRENT. Bootstrap containers started from now on sign with it; ` +
      'keep the previous key id in ticketPublicKeys until the old containers are gone and their tickets expired (infra/README.md).\n',
  );
}

async function showPublicKey(client: SecretsManagerClient, target: Target, stage: string): Promise<void> {
  const value = await client.send(new GetSecretValueCommand({ SecretId: target.secretId, VersionStage: stage }));
  const { kid, publicKeyPem } = publicKeyFromSecret(value.SecretString ?? '');
  process.stdout.write(`${ticketPublicKeysSnippet(kid, publicKeyPem)}\n`);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('ticket-key').description('Manage the Ed25519 ticket-signing key of the home stack');
  const withTarget = (cmd: Command): Command =>
    cmd
      .requiredOption('--secret-id <id>', 'ARN or name of the secret (home stack output TicketSigningSecretArn)')
      .requiredOption('--region <region>', 'the home region');
  const client = (region: string): SecretsManagerClient => new SecretsManagerClient({ region });
  withTarget(program.command('create').description('generate a key pair; store it as AWSPENDING; print the public key'))
    .requiredOption('--kid <kid>', 'key id, e.g. 2026-11')
    .action(async (o: Target & { kid: string }) => create(client(o.region), o, o.kid));
  withTarget(program.command('promote').description('make the AWSPENDING key the one the bootstrap signs with')).action(async (o: Target) =>
    promote(client(o.region), o),
  );
  withTarget(program.command('public-key').description("print a stored key's public half for ticketPublicKeys"))
    .option('--stage <stage>', 'AWSCURRENT or AWSPENDING', 'AWSCURRENT')
    .action(async (o: Target & { stage: string }) => showPublicKey(client(o.region), o, o.stage));
  await program.parseAsync(argv);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exitCode = 1;
  });
}
