import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import * as der from '@global-iot/core/der.js';
import {
  certificateIdOf,
  CsrRejected,
  generateDeviceKey,
  issueClientCertificate,
  type LocalPki,
  loadOrCreatePki,
  MAX_CSR_PEM_CHARS,
  PkiError,
  verifyCsr,
} from '@global-iot/local/pki.js';
import { createCsr, parseCertificate, tamperSignature } from './support/csr.js';

/**
 * The local PKI, checked with implementations it does not share code with: Node's (OpenSSL's)
 * X509Certificate and @peculiar/x509.
 */

const dir = mkdtempSync(join(tmpdir(), 'pki-test-'));
let pki: LocalPki;

beforeAll(async () => {
  pki = await loadOrCreatePki({ dir, regions: ['us-east-1', 'eu-central-1'], serverNames: ['eu-central-1.iot.local-cloud.test'], serverAddresses: ['127.0.0.3'] });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('certificate ids', () => {
  it("are AWS's: the SHA-256 of the DER certificate, 64 lower-case hex digits", () => {
    // Prepare
    const certificate = new X509Certificate(pki.claim.certificatePem);

    // Act
    const id = certificateIdOf(certificate.raw);

    // Assess
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(certificate.fingerprint256.replace(/:/g, '').toLowerCase());
  });
});

describe('issued certificates', () => {
  it('are client certificates from the region CA, valid until the end of 2049', async () => {
    // Prepare
    const key = await generateDeviceKey('ec-p256');
    const ca = pki.deviceCa('us-east-1');

    // Act
    const issued = issueClientCertificate(ca, key.spki, new Date('2026-11-28T12:00:00Z'));

    // Assess
    const node = new X509Certificate(issued.certificatePem);
    expect(node.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(node.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(node.subject).toBe('CN=AWS IoT Certificate');
    expect(new Date(node.validTo).toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(issued.certificateId).toBe(createHash('sha256').update(node.raw).digest('hex'));
    const peculiar = parseCertificate(issued.certificatePem);
    expect(peculiar.getExtension('2.5.29.19')?.critical).toBe(true);
    expect(peculiar.getExtension('2.5.29.37')).toBeTruthy();
    expect(node.ca).toBe(false);
  });

  it('carry an RSA device key with the key usages RSA needs', async () => {
    // Prepare
    const key = await generateDeviceKey('rsa-2048');

    // Act
    const issued = issueClientCertificate(pki.deviceCa('us-east-1'), key.spki, new Date());

    // Assess
    expect(key.privateKeyPem).toContain('BEGIN RSA PRIVATE KEY');
    expect(new X509Certificate(issued.certificatePem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('differ per region: one region does not vouch for another', async () => {
    // Prepare
    const key = await generateDeviceKey('ec-p256');

    // Act
    const issued = issueClientCertificate(pki.deviceCa('us-east-1'), key.spki, new Date());

    // Assess
    expect(new X509Certificate(issued.certificatePem).checkIssued(new X509Certificate(pki.deviceCa('eu-central-1').certificatePem))).toBe(false);
  });
});

describe('the server certificate', () => {
  it('names every host and address, and chains to the root CA', () => {
    // Act
    const server = new X509Certificate(pki.server.certificatePem);

    // Assess
    expect(server.subjectAltName).toBe(
      'DNS:localhost, DNS:eu-central-1.iot.local-cloud.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:127.0.0.3',
    );
    expect(server.checkIssued(new X509Certificate(pki.rootCa.certificatePem))).toBe(true);
    expect(new X509Certificate(pki.rootCa.certificatePem).ca).toBe(true);
  });
});

describe('verifyCsr', () => {
  it.each([['rsa-2048' as const, 'rsa'], ['ec-p256' as const, 'ec-p256']])('accepts a %s CSR', async (keyType, expected) => {
    // Prepare
    const csr = await createCsr(keyType, 'csr-device');

    // Act
    const verified = verifyCsr(csr.csrPem);

    // Assess
    expect(verified.keyType).toBe(expected);
    const issued = issueClientCertificate(pki.deviceCa('us-east-1'), verified.spki, new Date(), verified.subjectDer);
    expect(new X509Certificate(issued.certificatePem).subject).toBe('CN=csr-device');
  });

  it.each([
    ['a signature that does not verify', async () => tamperSignature((await createCsr('ec-p256')).csrPem), /does not verify/],
    ['a 1024-bit RSA key', async () => (await createCsr('rsa-1024')).csrPem, /2048 to 4096/],
    ['a P-521 key', async () => (await createCsr('ec-p521')).csrPem, /unsupported CSR key/],
    ['a certificate instead of a CSR', async () => pki.claim.certificatePem, /malformed/],
    ['bytes that are not DER', async () => '-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQ=\n-----END CERTIFICATE REQUEST-----\n', /malformed/],
    ['a CSR longer than AWS takes', async () => `${(await createCsr('ec-p256')).csrPem}${' '.repeat(MAX_CSR_PEM_CHARS)}`, /longer than/],
  ])('refuses %s', async (_label, make, message) => {
    // Prepare
    const pem = await make();

    // Act
    const attempt = () => verifyCsr(pem);

    // Assess
    expect(attempt).toThrow(CsrRejected);
    expect(attempt).toThrow(message);
  });
});

describe('loadOrCreatePki', () => {
  it('keeps the CAs and the claim certificate across restarts', async () => {
    // Act
    const again = await loadOrCreatePki({ dir, regions: ['us-east-1'], serverNames: [], serverAddresses: [] });

    // Assess
    expect(again.rootCa.certificateId).toBe(pki.rootCa.certificateId);
    expect(again.deviceCa('us-east-1').certificateId).toBe(pki.deviceCa('us-east-1').certificateId);
    expect(again.claim.certificateId).toBe(pki.claim.certificateId);
  });

  it('refuses a CA whose key does not match its certificate', async () => {
    // Prepare
    const broken = mkdtempSync(join(tmpdir(), 'pki-broken-'));
    const otherDir = mkdtempSync(join(tmpdir(), 'pki-other-'));
    onTestFinished(() => {
      rmSync(broken, { recursive: true, force: true });
      rmSync(otherDir, { recursive: true, force: true });
    });
    await loadOrCreatePki({ dir: broken, regions: [], serverNames: [], serverAddresses: [] });
    const other = await loadOrCreatePki({ dir: otherDir, regions: [], serverNames: [], serverAddresses: [] });
    writeFileSync(join(broken, 'root-ca.pem'), other.rootCa.certificatePem);

    // Act
    const attempt = loadOrCreatePki({ dir: broken, regions: [], serverNames: [], serverAddresses: [] });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PkiError);
  });
});

describe('DER', () => {
  it('writes UTCTime through 2049 and GeneralizedTime from 2050', () => {
    // Act
    const before = der.time(new Date('2049-12-31T23:59:59Z'));
    const after = der.time(new Date('2050-01-01T00:00:00Z'));

    // Assess
    expect(before.toString('latin1', 2)).toBe('491231235959Z');
    expect(before[0]).toBe(der.TAG.UTC_TIME);
    expect(after.toString('latin1', 2)).toBe('20500101000000Z');
    expect(after[0]).toBe(der.TAG.GENERALIZED_TIME);
  });

  it('reads back the object identifiers it writes', () => {
    // Act
    const decoded = ['1.2.840.10045.4.3.2', '2.5.29.19', '1.3.6.1.5.5.7.3.2', '2.999.1'].map((oid) => der.decodeOid(der.readElement(der.oid(oid)).value));

    // Assess
    expect(decoded).toEqual(['1.2.840.10045.4.3.2', '2.5.29.19', '1.3.6.1.5.5.7.3.2', '2.999.1']);
  });

  it.each([
    ['a length that runs past the end', Buffer.from([0x30, 0x05, 0x01])],
    ['a non-minimal long-form length', Buffer.from([0x04, 0x81, 0x01, 0x00])],
    ['an indefinite length', Buffer.from([0x30, 0x80, 0x00, 0x00])],
  ])('refuses %s', (_label, bytes) => {
    // Act
    const attempt = () => der.readElement(bytes);

    // Assess
    expect(attempt).toThrow(der.DerError);
  });
});
