import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs10CertificateRequest } from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import * as der from '@global-iot/core/der.js';
import {
  assertCertificateMatchesKey,
  generateKeyAndCsr,
  KeyMismatch,
  parseCertificate,
  parsePrivateKey,
} from '@global-iot/device/keys.js';
import { verifyCsr } from '@global-iot/local/pki.js';
import { tamperSignature } from '../local/support/csr.js';
import { selfSignedDeviceCert } from './support/certs.js';

/** `openssl req -verify` on a CSR: its exit status, what it said, and the subject as OpenSSL reads it. */
function opensslVerifiesCsr(csrPem: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'device-csr-'));
  try {
    const path = join(dir, 'device.csr');
    writeFileSync(path, csrPem);
    const run = spawnSync('openssl', ['req', '-in', path, '-verify', '-noout', '-subject', '-nameopt', 'RFC2253'], { encoding: 'utf8' });
    // OpenSSL 3 says "verify OK" (or "verify failure") on stderr, the subject on stdout; 3.0
    // exits 0 even when the signature does not verify, so the words are what a test checks.
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('generateKeyAndCsr', () => {
  it('makes a P-256 key and a self-signed CSR for it with CN = thing name', async () => {
    // Act
    const { privateKeyPem, csrPem } = await generateKeyAndCsr('sensor-0042');

    // Assess
    const key = createPrivateKey(privateKeyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const csr = new Pkcs10CertificateRequest(csrPem);
    expect(csr.subject).toBe('CN=sensor-0042');
    expect(await csr.verify()).toBe(true);
    const csrSpki = Buffer.from(csr.publicKey.rawData);
    const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    expect(csrSpki.equals(keySpki)).toBe(true);
  });

  it('takes every character a thing name may have literally', async () => {
    // Act
    const { csrPem } = await generateKeyAndCsr('a:b_c-D9');

    // Assess
    expect(new Pkcs10CertificateRequest(csrPem).subject).toBe('CN=a:b_c-D9');
  });

  it('hands back the key it put in the PEM, parsed', async () => {
    // Act
    const { privateKeyPem, privateKey } = await generateKeyAndCsr('sensor-0042');

    // Assess
    expect(privateKey.type).toBe('private');
    expect(privateKey.equals(createPrivateKey(privateKeyPem))).toBe(true);
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("is accepted by the local cloud's CSR check, subject and key as made", async () => {
    // Prepare
    const { privateKey, csrPem } = await generateKeyAndCsr('sensor-0042');

    // Act
    const verified = verifyCsr(csrPem);

    // Assess
    expect(verified.keyType).toBe('ec-p256');
    expect(verified.spki.equals(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }))).toBe(true);
    const expectedSubject = der.sequence(der.set(der.sequence(der.oid('2.5.4.3'), der.utf8String('sensor-0042'))));
    expect(verified.subjectDer.equals(expectedSubject)).toBe(true);
  });

  it('is accepted by openssl req -verify', async () => {
    // Prepare
    const { csrPem } = await generateKeyAndCsr('sensor-0042');

    // Act
    const { status, output } = opensslVerifiesCsr(csrPem);

    // Assess
    expect(status).toBe(0);
    expect(output).toMatch(/verify OK/);
    expect(output).toMatch(/^subject=CN=sensor-0042$/m);
    // The control: the same check on a CSR whose signature was tampered with.
    expect(opensslVerifiesCsr(tamperSignature(csrPem)).output).not.toMatch(/verify OK/);
  });

  it('signs with ECDSA over SHA-256 and asks for no attributes', async () => {
    // Prepare
    const { csrPem } = await generateKeyAndCsr('sensor-0042');
    const csr = der.fromPem(csrPem, ['CERTIFICATE REQUEST']);

    // Act
    const [info, algorithm] = der.children(der.readWhole(csr, der.TAG.SEQUENCE).value);
    const [version, , , attributes, ...rest] = der.children(der.expectTag(info, der.TAG.SEQUENCE, 'info').value);

    // Assess
    expect(version?.raw.equals(der.smallInteger(0))).toBe(true);
    expect(attributes?.raw.equals(Buffer.from([0xa0, 0x00]))).toBe(true);
    expect(rest).toEqual([]);
    expect(algorithm?.raw.equals(der.sequence(der.oid('1.2.840.10045.4.3.2')))).toBe(true);
  });

  it('makes a different key every time', async () => {
    // Act
    const [a, b] = await Promise.all([generateKeyAndCsr('x'), generateKeyAndCsr('x')]);

    // Assess
    expect(a.privateKeyPem).not.toBe(b.privateKeyPem);
  });
});

describe('assertCertificateMatchesKey', () => {
  it('accepts a certificate with its own key', async () => {
    // Prepare
    const { certificatePem, privateKeyPem } = await selfSignedDeviceCert();

    // Act
    const act = () => assertCertificateMatchesKey(certificatePem, privateKeyPem);

    // Assess
    expect(act).not.toThrow();
  });

  it('refuses a certificate for another key', async () => {
    // Prepare
    const [a, b] = await Promise.all([selfSignedDeviceCert(), selfSignedDeviceCert()]);

    // Act
    const act = () => assertCertificateMatchesKey(a.certificatePem, b.privateKeyPem);

    // Assess
    expect(act).toThrow(KeyMismatch);
  });

  it('takes the certificate and key already parsed, and checks them the same', async () => {
    // Prepare
    const [a, b] = await Promise.all([selfSignedDeviceCert(), selfSignedDeviceCert()]);
    const certificate = parseCertificate(a.certificatePem);

    // Act
    const own = () => assertCertificateMatchesKey(certificate, parsePrivateKey(a.privateKeyPem));
    const other = () => assertCertificateMatchesKey(certificate, parsePrivateKey(b.privateKeyPem));

    // Assess
    expect(own).not.toThrow();
    expect(other).toThrow('the certificate is not for this private key');
  });

  it('refuses a public key where the private key belongs', async () => {
    // Prepare
    const { certificatePem, privateKeyPem } = await selfSignedDeviceCert();

    // Act
    const act = () => assertCertificateMatchesKey(certificatePem, createPublicKey(privateKeyPem));

    // Assess
    expect(act).toThrow(KeyMismatch);
  });

  it.each([
    ['certificate', 'not a cert', 'key'],
    ['private key', 'cert', 'not a key'],
  ])('refuses an invalid %s', async (_label, cert, key) => {
    // Prepare
    const real = await selfSignedDeviceCert();

    // Act
    const act = () =>
      assertCertificateMatchesKey(cert === 'cert' ? real.certificatePem : cert, key === 'key' ? real.privateKeyPem : key);

    // Assess
    expect(act).toThrow(KeyMismatch);
  });
});
