import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import * as z from 'zod';
import { ConfigError, InvalidInput } from './errors.js';
import { thingNameSchema } from './thing-name.js';

/**
 * The provisioning ticket: a compact signed token that the bootstrap issues and the
 * pre-provisioning hook in the assigned region verifies, without sharing any secret.
 *
 *     t1.<payload>.<signature>
 *
 * <payload> is base64url (no padding) of a JSON object
 *     {"v":1,"jti":<id>,"sub":<thing name>,"rgn":<region>,"iat":<s>,"exp":<s>,"kid":<key id>}
 * and <signature> is base64url of the Ed25519 signature over the ASCII bytes "t1.<payload>".
 * Tickets are at most 1,024 characters; the hook reads them from a template parameter.
 */
export const TICKET_PREFIX = 't1.';
export const MAX_TICKET_LENGTH = 1024;

/** Key ids travel in every ticket (claim `kid`) and in the hooks' TICKET_PUBLIC_KEYS. */
export const TICKET_KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const ticketKeyIdSchema = z.string().regex(TICKET_KID_PATTERN, 'key ids are 1-64 characters of [A-Za-z0-9._-]');

export const ticketClaimsSchema = z.object({
  v: z.literal(1),
  jti: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  sub: thingNameSchema,
  rgn: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
  kid: ticketKeyIdSchema,
});
export type TicketClaims = z.infer<typeof ticketClaimsSchema>;

export class InvalidTicket extends InvalidInput {
  override name = 'InvalidTicket';
}

/** One signing key and the id tickets name it by. */
export interface TicketSigningKey {
  readonly kid: string;
  sign(data: Buffer): Buffer | Promise<Buffer>;
}

/**
 * Where tickets get their key: a fixed key, or a source asked once per ticket. The deployed
 * bootstrap reads its key from Secrets Manager with a cache lifetime, so a promoted key signs
 * from the next refresh on; the key id and the signature always come from the same key.
 */
export type TicketSigner = TicketSigningKey | { readonly currentKey: () => Promise<TicketSigningKey> };

/** A signer over a local Ed25519 private key (generated locally; from a secret store on AWS). */
export function ed25519Signer(kid: string, privateKey: KeyObject | string): TicketSigningKey {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError('the ticket signing key must be Ed25519');
  return { kid, sign: (data) => sign(null, data, key) };
}

/** The value of the ticket-signing secret is not a usable ticket key. */
export class TicketSecretError extends ConfigError {
  override name = 'TicketSecretError';
}

/**
 * The ticket-signing secret's value (Secrets Manager, written by infra/scripts/ticket-key.ts):
 * JSON `{"kid", "privateKeyPem"}`, the key id as tickets carry it, the key Ed25519 PKCS#8 PEM.
 */
export const ticketSigningSecretSchema = z.object({ kid: ticketKeyIdSchema, privateKeyPem: z.string().min(1) });

/**
 * Reads the secret's value into a key id and its private key; every way it can be wrong is a
 * TicketSecretError that says what to do, and never quotes the value.
 */
export function parseTicketSigningSecret(secretString: string): { kid: string; privateKey: KeyObject } {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new TicketSecretError('the ticket signing secret does not hold JSON; store a key with infra/scripts/ticket-key.ts create');
  }
  const parsed = ticketSigningSecretSchema.safeParse(json);
  if (!parsed.success) {
    throw new TicketSecretError('the ticket signing secret is not a ticket key {"kid","privateKeyPem"} with a valid key id; run infra/scripts/ticket-key.ts create');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(parsed.data.privateKeyPem);
  } catch {
    throw new TicketSecretError('the ticket signing secret holds no readable PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TicketSecretError('the ticket signing key is not Ed25519');
  return { kid: parsed.data.kid, privateKey };
}

export async function issueTicket(
  signer: TicketSigner,
  claims: { thingName: string; region: string; ttlSeconds: number; nowMs: number },
): Promise<{ ticket: string; claims: TicketClaims }> {
  const key = 'currentKey' in signer ? await signer.currentKey() : signer;
  const iat = Math.floor(claims.nowMs / 1000);
  const body: TicketClaims = {
    v: 1,
    jti: randomBytes(16).toString('base64url'),
    sub: claims.thingName,
    rgn: claims.region,
    iat,
    exp: iat + claims.ttlSeconds,
    kid: key.kid,
  };
  const signed = TICKET_PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url');
  const signature = await key.sign(Buffer.from(signed, 'ascii'));
  return { ticket: `${signed}.${signature.toString('base64url')}`, claims: body };
}

/** Public halves of the ticket keys, by key id: several at once during a rotation. */
export type TicketVerificationKeys = ReadonlyMap<string, KeyObject>;

export function parseTicketPublicKeys(keys: Record<string, string>): TicketVerificationKeys {
  const map = new Map<string, KeyObject>();
  for (const [kid, pem] of Object.entries(keys)) {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`ticket key ${kid} must be Ed25519`);
    map.set(kid, key);
  }
  if (map.size === 0) throw new ConfigError('at least one ticket public key is required');
  return map;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Verifies a ticket's form, signature and expiry. It says nothing about the registry: the hook
 * still checks that the ticket is the device's live assignment.
 */
export function verifyTicket(ticket: string, keys: TicketVerificationKeys, nowMs: number): TicketClaims {
  if (ticket.length > MAX_TICKET_LENGTH || !ticket.startsWith(TICKET_PREFIX)) {
    throw new InvalidTicket('malformed ticket');
  }
  const parts = ticket.slice(TICKET_PREFIX.length).split('.');
  const [payload, signature] = parts;
  if (parts.length !== 2 || !payload || !signature || !B64URL.test(payload) || !B64URL.test(signature)) {
    throw new InvalidTicket('malformed ticket');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTicket('malformed ticket payload');
  }
  const parsed = ticketClaimsSchema.safeParse(json);
  if (!parsed.success) throw new InvalidTicket('malformed ticket claims');
  const key = keys.get(parsed.data.kid);
  if (!key) throw new InvalidTicket('unknown ticket key');
  const signed = Buffer.from(TICKET_PREFIX + payload, 'ascii');
  if (!verify(null, signed, key, Buffer.from(signature, 'base64url'))) {
    throw new InvalidTicket('bad ticket signature');
  }
  if (parsed.data.exp * 1000 <= nowMs) throw new InvalidTicket('ticket expired');
  return parsed.data;
}
