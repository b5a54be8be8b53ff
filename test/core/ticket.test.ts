import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ed25519Signer,
  InvalidTicket,
  issueTicket,
  parseTicketPublicKeys,
  parseTicketSigningSecret,
  TicketSecretError,
  verifyTicket,
} from '@global-iot/core/ticket.js';

const pair = generateKeyPairSync('ed25519');
const keys = parseTicketPublicKeys({ k1: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() });
const signer = ed25519Signer('k1', pair.privateKey);
const now = Date.parse('2026-11-28T12:00:00Z');

async function ticket() {
  return issueTicket(signer, { thingName: 'dev-1', region: 'eu-central-1', ttlSeconds: 900, nowMs: now });
}

describe('ticket', () => {
  it('round-trips its claims and stays compact', async () => {
    const { ticket: t, claims } = await ticket();
    expect(t.startsWith('t1.')).toBe(true);
    expect(t.length).toBeLessThan(300);
    expect(verifyTicket(t, keys, now + 1000)).toEqual(claims);
    expect(claims).toMatchObject({ sub: 'dev-1', rgn: 'eu-central-1', exp: claims.iat + 900, kid: 'k1' });
  });

  it('is refused when expired, tampered, signed by another key or malformed', async () => {
    const { ticket: t } = await ticket();
    expect(() => verifyTicket(t, keys, now + 900_000)).toThrow(/expired/);
    const [prefix, payload, sig] = t.split('.');
    const claims = JSON.parse(Buffer.from(String(payload), 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, rgn: 'us-east-1' })).toString('base64url');
    expect(() => verifyTicket(`${prefix}.${forged}.${sig}`, keys, now)).toThrow(/bad ticket signature/);
    const other = generateKeyPairSync('ed25519');
    const otherTicket = await issueTicket(ed25519Signer('k1', other.privateKey), { thingName: 'dev-1', region: 'eu-central-1', ttlSeconds: 900, nowMs: now });
    expect(() => verifyTicket(otherTicket.ticket, keys, now)).toThrow(/bad ticket signature/);
    const unknownKid = await issueTicket(ed25519Signer('k2', pair.privateKey), { thingName: 'dev-1', region: 'eu-central-1', ttlSeconds: 900, nowMs: now });
    expect(() => verifyTicket(unknownKid.ticket, keys, now)).toThrow(/unknown ticket key/);
    for (const bad of ['', 't1.', 't1.a.b.c', 'x'.repeat(2000), 't2.abc.def', `t1.${'!'.repeat(10)}.abc`, 't1.e30.AAAA']) {
      expect(() => verifyTicket(bad, keys, now)).toThrow(InvalidTicket);
    }
  });

  it('refuses a non-Ed25519 signing or verification key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(() => ed25519Signer('k', ec.privateKey)).toThrow(/Ed25519/);
    expect(() => parseTicketPublicKeys({ k: ec.publicKey.export({ type: 'spki', format: 'pem' }).toString() })).toThrow(/Ed25519/);
    expect(() => parseTicketPublicKeys({})).toThrow(/at least one/);
  });
});

describe('the ticket-signing secret', () => {
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it('reads a key id and an Ed25519 key that signs tickets', async () => {
    // Act
    const { kid, privateKey } = parseTicketSigningSecret(JSON.stringify({ kid: 'k1', privateKeyPem: pem }));
    const issued = await issueTicket(ed25519Signer(kid, privateKey), { thingName: 'dev-1', region: 'eu-central-1', ttlSeconds: 900, nowMs: now });

    // Assess
    expect(kid).toBe('k1');
    expect(verifyTicket(issued.ticket, keys, now).kid).toBe('k1');
  });

  it.each([
    ['a placeholder that is not JSON', 'random-placeholder', /does not hold JSON/],
    ['JSON without the key', '{"kid":"k1"}', /not a ticket key/],
    ['a key id tickets cannot carry', JSON.stringify({ kid: 'has space', privateKeyPem: pem }), /not a ticket key/],
    ['a PEM that is no key', JSON.stringify({ kid: 'k1', privateKeyPem: 'not a pem' }), /no readable PEM private key/],
    [
      'an EC key',
      JSON.stringify({ kid: 'k1', privateKeyPem: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }),
      /not Ed25519/,
    ],
  ])('refuses %s, naming the fix and never the value', (_label, value, message) => {
    // Act
    const act = () => parseTicketSigningSecret(value);

    // Assess
    expect(act).toThrow(TicketSecretError);
    expect(act).toThrow(message);
    try {
      act();
    } catch (error) {
      expect(String(error)).not.toContain('PRIVATE KEY');
    }
  });

  it('lets a ticket take its key from a source asked per ticket', async () => {
    // Prepare: the source changes its key between two tickets, as a promoted secret does.
    const second = generateKeyPairSync('ed25519');
    const both = parseTicketPublicKeys({
      k1: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      k2: second.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    let current = ed25519Signer('k1', pair.privateKey);
    const source = { currentKey: async () => current };

    // Act
    const before = await issueTicket(source, { thingName: 'dev-1', region: 'eu-central-1', ttlSeconds: 900, nowMs: now });
    current = ed25519Signer('k2', second.privateKey);
    const after = await issueTicket(source, { thingName: 'dev-1', region: 'eu-central-1', ttlSeconds: 900, nowMs: now });

    // Assess
    expect(verifyTicket(before.ticket, both, now).kid).toBe('k1');
    expect(verifyTicket(after.ticket, both, now).kid).toBe('k2');
  });
});
