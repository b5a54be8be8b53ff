import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { provisioningTemplateArn, TICKET_PARAM, THING_NAME_PARAM } from '@global-iot/core/provisioning-params.js';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import {
  ed25519Signer,
  issueTicket,
  parseTicketPublicKeys,
  type TicketClaims,
  type TicketSigner,
  type TicketVerificationKeys,
} from '@global-iot/core/ticket.js';
import type { HookDeps } from '@global-iot/pre-provisioning-hook/hook.js';
import type { TestRegistry } from '../helpers/registry.js';
import { RecordedInvocations, type RecordedLine } from '../helpers/telemetry.js';
import { claimClientId, DEFAULT_CLAIM_CLIENT_ID_PREFIX } from '@global-iot/core/claim-client-id.js';

export const TICKET_KID = 'hook-test-1';
export const TICKET_TTL_SECONDS = 900;

export interface TicketKeyPair {
  signer: TicketSigner;
  keys: TicketVerificationKeys;
  /** The public key by key id, as the hook's TICKET_PUBLIC_KEYS setting carries it. */
  publicKeys: Record<string, string>;
}

export function ticketKeyPair(kid = TICKET_KID): TicketKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicKeys = { [kid]: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  return { signer: ed25519Signer(kid, privateKey), keys: parseTicketPublicKeys(publicKeys), publicKeys };
}

export function certificateId(): string {
  return randomBytes(32).toString('hex');
}

/** A local port nothing listens on: connections to it are refused at once. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return port;
}

export function readFixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
}

export interface IssuedTicket {
  ticket: string;
  claims: TicketClaims;
}

/**
 * The hook's world against dynalite: a ticket key, the registry, and the steps the bootstrap and
 * operators take (enrol, assign with a ticket, block) so that tests reach every state.
 */
/** The claim client-id prefix the test hooks run with: the configuration's default. */
export const CLAIM_PREFIX = DEFAULT_CLAIM_CLIENT_ID_PREFIX;

export class HookWorld {
  /** What the hook recorded: its log lines and its metrics' dimensions. */
  readonly recorded = new RecordedInvocations();
  readonly signer: TicketSigner;
  readonly ticketKeys: TicketVerificationKeys;
  private requestSeq = 0;
  private thingSeq = 0;

  constructor(
    readonly t: TestRegistry,
    pair: TicketKeyPair = ticketKeyPair(),
  ) {
    this.signer = pair.signer;
    this.ticketKeys = pair.keys;
  }

  deps(overrides: Partial<HookDeps> = {}): HookDeps {
    return {
      registry: this.t.registry,
      ticketKeys: this.ticketKeys,
      now: () => this.t.clock.now,
      settings: { maxProvisionAttempts: 3, claimClientIdPrefix: CLAIM_PREFIX, legacyClaimClientIds: false, rotationTemplateName: 'GlobalFleetRotation' },
      record: this.recorded.record,
      ...overrides,
    };
  }

  /** The log lines, as the function writes them. */
  get logs(): RecordedLine[] {
    return this.recorded.lines();
  }

  lastLog(): RecordedLine | undefined {
    return this.recorded.lastLine();
  }

  newThingName(prefix = 'hook-device'): string {
    return `${prefix}-${++this.thingSeq}-${randomBytes(3).toString('hex')}`;
  }

  async issue(thingName: string, region: string, signer: TicketSigner = this.signer, ttlSeconds = TICKET_TTL_SECONDS): Promise<IssuedTicket> {
    return issueTicket(signer, { thingName, region, ttlSeconds, nowMs: this.t.clock.now });
  }

  async enrolled(prefix?: string): Promise<string> {
    const name = this.newThingName(prefix);
    await this.t.registry.enroll({ thingName: name });
    return name;
  }

  /** What the bootstrap does: record the assignment and hand the device its ticket. */
  async assign(
    thingName: string,
    region: string,
    expectedStatus: 'unprovisioned' | 'assigned' | 'provisioning' = 'unprovisioned',
  ): Promise<IssuedTicket> {
    const issued = await this.issue(thingName, region);
    await this.t.registry.assign({
      thingName,
      expectedStatus,
      region,
      requestTs: this.t.clock.now + ++this.requestSeq,
      ticketId: issued.claims.jti,
      ticketExpiresAt: issued.claims.exp * 1000,
    });
    return issued;
  }

  async assignedDevice(region: string): Promise<{ thingName: string } & IssuedTicket> {
    const thingName = await this.enrolled();
    return { thingName, ...(await this.assign(thingName, region)) };
  }

  async record(thingName: string): Promise<DeviceRecord | undefined> {
    return this.t.registry.get(thingName);
  }
}

/** A RegisterThing hook event as AWS IoT sends it, for one device and certificate. */
export function hookEvent(options: {
  thingName: string;
  ticket?: string;
  region: string;
  certificateId: string;
  clientId?: string;
  parameters?: Record<string, string>;
}): Record<string, unknown> {
  return {
    claimCertificateId: 'c'.repeat(64),
    certificateId: options.certificateId,
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    templateArn: provisioningTemplateArn({ region: options.region, accountId: '123456789012', templateName: 'GlobalFleetProvisioning' }),
    // The claim session's own client id, as the device client opens it.
    clientId: options.clientId ?? claimClientId(CLAIM_PREFIX, options.thingName),
    parameters: options.parameters ?? {
      [THING_NAME_PARAM]: options.thingName,
      ...(options.ticket === undefined ? {} : { [TICKET_PARAM]: options.ticket }),
    },
  };
}
