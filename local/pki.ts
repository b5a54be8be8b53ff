import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
  X509Certificate,
} from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import { InvalidInput } from '@global-iot/core/errors.js';
import * as der from '@global-iot/core/der.js';
import { publicKeyFromSpki } from '@global-iot/core/public-key.js';

/**
 * The local cloud's PKI: a server CA (the stand-in for Amazon Root CA 1) for every TLS server, a
 * claim CA for the fleet's shared claim certificate, and one device CA per region for the
 * certificates fleet provisioning issues. CA and server keys are EC P-256: signing with them is
 * cheap, which matters when the fleet simulator provisions hundreds of devices per second.
 */

export type DeviceKeyAlgorithm = 'rsa-2048' | 'ec-p256';

export class CsrRejected extends InvalidInput {
  override name = 'CsrRejected';
}

export class PkiError extends Error {
  override name = 'PkiError';
}

export interface CertificateAuthority {
  readonly certificatePem: string;
  readonly certificateDer: Buffer;
  readonly certificateId: string;
  /** The CA's subject, byte for byte, so issued certificates chain by exact issuer match. */
  readonly subjectDer: Buffer;
  readonly keyId: Buffer;
  readonly privateKey: KeyObject;
}

export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly certificateDer: Buffer;
  readonly certificateId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const OID = {
  commonName: '2.5.4.3',
  country: '2.5.4.6',
  locality: '2.5.4.7',
  state: '2.5.4.8',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** AWS IoT issues certificates valid until the end of 2049; so does the local cloud. */
export const DEVICE_CERTIFICATE_NOT_AFTER = new Date('2049-12-31T23:59:59Z');
/** Room for device clocks that run a little behind the emulator's. */
const BACKDATE_MS = 5 * 60_000;

const SIGNATURE_HASHES: ReadonlyMap<string, string> = new Map([
  [OID.ecdsaWithSha256, 'sha256'],
  [OID.ecdsaWithSha384, 'sha384'],
  [OID.ecdsaWithSha512, 'sha512'],
  [OID.sha256WithRsa, 'sha256'],
  [OID.sha384WithRsa, 'sha384'],
  [OID.sha512WithRsa, 'sha512'],
]);

/** AWS's certificate id, from core: the local IoT's planes read it from here. */
export { certificateIdOf };

export function certificateDerFromPem(pem: string): Buffer {
  return der.fromPem(pem, ['CERTIFICATE']);
}

export interface NameAttributes {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  locality?: string;
  state?: string;
  country?: string;
}

/** An X.501 Name, one attribute per RDN, in the conventional C, ST, L, O, OU, CN order. */
export function encodeName(attributes: NameAttributes): Buffer {
  const rdn = (type: string, value: Buffer) => der.set(der.sequence(der.oid(type), value));
  const parts: Buffer[] = [];
  if (attributes.country) parts.push(rdn(OID.country, der.printableString(attributes.country)));
  if (attributes.state) parts.push(rdn(OID.state, der.utf8String(attributes.state)));
  if (attributes.locality) parts.push(rdn(OID.locality, der.utf8String(attributes.locality)));
  if (attributes.organization) parts.push(rdn(OID.organization, der.utf8String(attributes.organization)));
  if (attributes.organizationalUnit) parts.push(rdn(OID.organizationalUnit, der.utf8String(attributes.organizationalUnit)));
  if (attributes.commonName) parts.push(rdn(OID.commonName, der.utf8String(attributes.commonName)));
  return der.sequence(...parts);
}

const EMPTY_NAME = der.sequence();
const DEVICE_SUBJECT = encodeName({ commonName: 'AWS IoT Certificate' });

/** RFC 5280 key identifier method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Buffer): Buffer {
  const [, publicKeyBits] = der.children(der.readWhole(spki, der.TAG.SEQUENCE).value);
  const bits = der.expectTag(publicKeyBits, der.TAG.BIT_STRING, 'subjectPublicKey');
  return createHash('sha1').update(bits.value.subarray(1)).digest();
}

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

/** Reads the key algorithm from SubjectPublicKeyInfo: cheaper than building a KeyObject. */
function isRsaKey(spki: Buffer): boolean {
  const [algorithm] = der.children(der.readWhole(spki, der.TAG.SEQUENCE).value);
  const [oid] = der.children(der.expectTag(algorithm, der.TAG.SEQUENCE, 'algorithm').value);
  return der.decodeOid(der.expectTag(oid, der.TAG.OID, 'algorithm id').value) === RSA_ENCRYPTION;
}

function extension(type: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(type), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

type Profile =
  | { kind: 'ca' }
  | { kind: 'server'; dnsNames: readonly string[]; ipAddresses: readonly string[] }
  | { kind: 'client'; rsa: boolean };

function extensionsFor(profile: Profile, subjectKeyId: Buffer, authorityKeyId: Buffer): Buffer[] {
  const ids = [
    extension(OID.subjectKeyId, false, der.octetString(subjectKeyId)),
    extension(OID.authorityKeyId, false, der.sequence(der.tlv(0x80, authorityKeyId))),
  ];
  switch (profile.kind) {
    case 'ca':
      return [
        extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
        extension(OID.keyUsage, true, der.namedBits([5, 6])),
        ...ids,
      ];
    case 'server': {
      const names = [
        ...profile.dnsNames.map((name) => der.tlv(0x82, Buffer.from(name, 'ascii'))),
        ...profile.ipAddresses.map((address) => der.tlv(0x87, ipBytes(address))),
      ];
      return [
        extension(OID.basicConstraints, true, der.sequence()),
        extension(OID.keyUsage, true, der.namedBits([0])),
        extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
        extension(OID.subjectAltName, false, der.sequence(...names)),
        ...ids,
      ];
    }
    case 'client':
      return [
        extension(OID.basicConstraints, true, der.sequence()),
        extension(OID.keyUsage, true, der.namedBits(profile.rsa ? [0, 2] : [0])),
        extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.clientAuth))),
        ...ids,
      ];
  }
}

function ipBytes(address: string): Buffer {
  const family = isIP(address);
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  if (family === 6) {
    const [head = '', tail = ''] = address.split('::');
    const groups = (part: string) => (part ? part.split(':') : []);
    const h = groups(head);
    const t = groups(tail);
    const all = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
    return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
  }
  throw new PkiError(`not an IP address: ${address}`);
}

interface Signer {
  readonly subjectDer: Buffer;
  readonly keyId: Buffer;
  readonly privateKey: KeyObject;
}

function buildCertificate(params: {
  subjectDer: Buffer;
  spki: Buffer;
  issuer: Signer | 'self';
  selfKey?: KeyObject;
  notBefore: Date;
  notAfter: Date;
  profile: Profile;
}): IssuedCertificate {
  const subjectKeyId = keyIdentifier(params.spki);
  const issuer: Signer =
    params.issuer === 'self'
      ? { subjectDer: params.subjectDer, keyId: subjectKeyId, privateKey: requireKey(params.selfKey) }
      : params.issuer;
  if (issuer.privateKey.asymmetricKeyType !== 'ec') throw new PkiError('issuing keys must be EC P-256');
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01;
  const signatureAlgorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(serial),
    signatureAlgorithm,
    issuer.subjectDer,
    der.sequence(der.time(params.notBefore), der.time(params.notAfter)),
    params.subjectDer,
    params.spki,
    der.explicit(3, der.sequence(...extensionsFor(params.profile, subjectKeyId, issuer.keyId))),
  );
  const signature = sign('sha256', tbs, issuer.privateKey);
  const certificateDer = der.sequence(tbs, signatureAlgorithm, der.bitString(signature));
  return {
    certificateDer,
    certificatePem: der.toPem('CERTIFICATE', certificateDer),
    certificateId: certificateIdOf(certificateDer),
    notBefore: params.notBefore,
    notAfter: params.notAfter,
  };
}

function requireKey(key: KeyObject | undefined): KeyObject {
  if (!key) throw new PkiError('a self-signed certificate needs its own private key');
  return key;
}

function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function newEcKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function toAuthority(certificateDer: Buffer, privateKey: KeyObject): CertificateAuthority {
  const [tbs] = der.children(der.readWhole(certificateDer, der.TAG.SEQUENCE).value);
  const fields = der.children(der.expectTag(tbs, der.TAG.SEQUENCE, 'tbsCertificate').value);
  // version [0], serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  const subject = der.expectTag(fields[5], der.TAG.SEQUENCE, 'subject');
  const spki = der.expectTag(fields[6], der.TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const derivedPublic = spkiOf(createPublicKey(privateKey));
  if (!derivedPublic.equals(spki.raw)) throw new PkiError('the CA key does not match its certificate');
  return {
    certificateDer,
    certificatePem: der.toPem('CERTIFICATE', certificateDer),
    certificateId: certificateIdOf(certificateDer),
    subjectDer: Buffer.from(subject.raw),
    keyId: keyIdentifier(Buffer.from(spki.raw)),
    privateKey,
  };
}

export function createCertificateAuthority(subject: NameAttributes, now: Date): CertificateAuthority {
  const { privateKey, publicKey } = newEcKey();
  const issued = buildCertificate({
    subjectDer: encodeName(subject),
    spki: spkiOf(publicKey),
    issuer: 'self',
    selfKey: privateKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: DEVICE_CERTIFICATE_NOT_AFTER,
    profile: { kind: 'ca' },
  });
  return toAuthority(issued.certificateDer, privateKey);
}

export interface KeyAndCertificate extends IssuedCertificate {
  readonly privateKeyPem: string;
}

/** A TLS server certificate naming every host name and address the local servers answer on. */
export function issueServerCertificate(
  ca: CertificateAuthority,
  names: { dnsNames: readonly string[]; ipAddresses: readonly string[] },
  now: Date,
): KeyAndCertificate {
  const { privateKey, publicKey } = newEcKey();
  const issued = buildCertificate({
    subjectDer: encodeName({ commonName: names.dnsNames[0] ?? 'localhost', organization: 'Local IoT cloud' }),
    spki: spkiOf(publicKey),
    issuer: ca,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + 397 * 24 * 3600_000),
    profile: { kind: 'server', ...names },
  });
  return { ...issued, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/**
 * A client certificate for a public key (SubjectPublicKeyInfo DER). `subjectDer` defaults to
 * AWS's "CN=AWS IoT Certificate".
 */
export function issueClientCertificate(
  ca: CertificateAuthority,
  spki: Buffer,
  now: Date,
  subjectDer: Buffer = DEVICE_SUBJECT,
): IssuedCertificate {
  return buildCertificate({
    subjectDer: subjectDer.equals(EMPTY_NAME) ? DEVICE_SUBJECT : subjectDer,
    spki,
    issuer: ca,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: DEVICE_CERTIFICATE_NOT_AFTER,
    profile: { kind: 'client', rsa: isRsaKey(spki) },
  });
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A new device key pair, generated off the event loop. AWS's CreateKeysAndCertificate returns an
 * RSA 2048 key in PKCS#1 PEM; `ec-p256` (SEC1 PEM) is offered because RSA generation costs
 * ~150 ms of CPU, too slow for a simulated fleet.
 */
export async function generateDeviceKey(algorithm: DeviceKeyAlgorithm): Promise<{ privateKeyPem: string; spki: Buffer }> {
  if (algorithm === 'rsa-2048') {
    const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    return { privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), spki: spkiOf(publicKey) };
  }
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
  return { privateKeyPem: privateKey.export({ type: 'sec1', format: 'pem' }).toString(), spki: spkiOf(publicKey) };
}

/** AWS accepts CSRs up to 4 KiB of PEM; the bound also keeps parsing cheap. */
export const MAX_CSR_PEM_CHARS = 4096;

export interface VerifiedCsr {
  readonly subjectDer: Buffer;
  readonly spki: Buffer;
  readonly keyType: 'rsa' | 'ec-p256' | 'ec-p384';
}

/**
 * Parses a PKCS#10 request and checks its self-signature: the requester must hold the private key
 * of the public key it asks to have certified. RSA (2048 to 4096 bits) and EC P-256/P-384 keys
 * with PKCS#1 v1.5 or ECDSA signatures over SHA-2 are accepted, as AWS accepts them.
 */
export function verifyCsr(pem: string): VerifiedCsr {
  if (pem.length > MAX_CSR_PEM_CHARS) throw new CsrRejected(`the CSR is longer than ${MAX_CSR_PEM_CHARS} characters`);
  try {
    const csrDer = der.fromPem(pem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
    const [info, algorithm, signature, ...extra] = der.children(der.readWhole(csrDer, der.TAG.SEQUENCE).value);
    if (extra.length > 0) throw new CsrRejected('the CSR has trailing fields');
    const infoElement = der.expectTag(info, der.TAG.SEQUENCE, 'certificationRequestInfo');
    const [version, subject, spki] = der.children(infoElement.value);
    const versionValue = der.expectTag(version, der.TAG.INTEGER, 'version').value;
    if (versionValue.length !== 1 || versionValue[0] !== 0) throw new CsrRejected('only version 1 CSRs are supported');
    const subjectElement = der.expectTag(subject, der.TAG.SEQUENCE, 'subject');
    const spkiElement = der.expectTag(spki, der.TAG.SEQUENCE, 'subjectPublicKeyInfo');
    const [algorithmOid] = der.children(der.expectTag(algorithm, der.TAG.SEQUENCE, 'signatureAlgorithm').value);
    const oid = der.decodeOid(der.expectTag(algorithmOid, der.TAG.OID, 'signature algorithm').value);
    const hash = SIGNATURE_HASHES.get(oid);
    if (!hash) throw new CsrRejected(`unsupported CSR signature algorithm ${oid}`);
    const signatureBits = der.expectTag(signature, der.TAG.BIT_STRING, 'signature').value;
    if (signatureBits[0] !== 0) throw new CsrRejected('malformed CSR signature');
    const publicKey = publicKeyFromSpki(Buffer.from(spkiElement.raw));
    const keyType = acceptedKeyType(publicKey);
    if ((keyType === 'rsa') !== oid.startsWith('1.2.840.113549')) throw new CsrRejected('the signature algorithm does not fit the key');
    if (!verify(hash, infoElement.raw, publicKey, signatureBits.subarray(1))) {
      throw new CsrRejected('the CSR signature does not verify');
    }
    return { subjectDer: Buffer.from(subjectElement.raw), spki: Buffer.from(spkiElement.raw), keyType };
  } catch (error) {
    if (error instanceof CsrRejected) throw error;
    throw new CsrRejected(`the CSR is malformed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function acceptedKeyType(key: KeyObject): VerifiedCsr['keyType'] {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048 || bits > 4096) throw new CsrRejected(`RSA keys must be 2048 to 4096 bits, got ${bits}`);
    return 'rsa';
  }
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ec-p256';
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'secp384r1') return 'ec-p384';
  throw new CsrRejected(`unsupported CSR key: ${key.asymmetricKeyType ?? 'unknown'} ${details.namedCurve ?? ''}`.trim());
}

export interface PkiPaths {
  readonly dir: string;
  /** The server CA: what devices use where AWS has them use AmazonRootCA1.pem. */
  readonly rootCa: string;
  readonly claimCa: string;
  readonly claimCert: string;
  readonly claimKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly deviceCa: Readonly<Record<string, string>>;
}

export interface LocalPki {
  readonly paths: PkiPaths;
  readonly rootCa: CertificateAuthority;
  readonly claimCa: CertificateAuthority;
  readonly claim: KeyAndCertificate;
  readonly server: KeyAndCertificate;
  deviceCa(region: string): CertificateAuthority;
}

export interface PkiOptions {
  /** Where keys and certificates live; reused across restarts so issued certificates stay valid. */
  dir: string;
  regions: readonly string[];
  /** Host names and addresses the TLS servers answer on (subject alternative names). */
  serverNames: readonly string[];
  serverAddresses: readonly string[];
  now?: () => number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function writeKeyFile(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o600 });
}

async function loadOrCreateAuthority(
  certPath: string,
  keyPath: string,
  subject: NameAttributes,
  now: Date,
): Promise<CertificateAuthority> {
  if ((await exists(certPath)) && (await exists(keyPath))) {
    const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    try {
      return toAuthority(certificateDerFromPem(certPem), createPrivateKey(keyPem));
    } catch (cause) {
      throw new PkiError(`cannot load the CA in ${certPath}; delete it and its key to start afresh`, { cause });
    }
  }
  const ca = createCertificateAuthority(subject, now);
  await writeFile(certPath, ca.certificatePem);
  await writeKeyFile(keyPath, ca.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  return ca;
}

function issuedBy(certificatePem: string, ca: CertificateAuthority): boolean {
  try {
    return new X509Certificate(certificatePem).verify(createPublicKey(ca.privateKey));
  } catch {
    return false;
  }
}

/**
 * Loads the PKI from `dir`, creating what is missing. CAs and the claim certificate are kept;
 * the server certificate is issued afresh on every start so that it names the hosts of this run.
 */
export async function loadOrCreatePki(options: PkiOptions): Promise<LocalPki> {
  const now = new Date((options.now ?? Date.now)());
  const dir = options.dir;
  const privateDir = join(dir, 'private');
  await mkdir(privateDir, { recursive: true, mode: 0o700 });
  const paths: PkiPaths = {
    dir,
    rootCa: join(dir, 'root-ca.pem'),
    claimCa: join(dir, 'claim-ca.pem'),
    claimCert: join(dir, 'claim.cert.pem'),
    claimKey: join(dir, 'claim.private.key'),
    serverCert: join(dir, 'server.cert.pem'),
    serverKey: join(privateDir, 'server.key'),
    deviceCa: Object.fromEntries(options.regions.map((region) => [region, join(dir, `device-ca-${region}.pem`)])),
  };
  const rootCa = await loadOrCreateAuthority(paths.rootCa, join(privateDir, 'root-ca.key'), {
    organization: 'Local IoT cloud',
    commonName: 'Local Root CA 1 (stands in for Amazon Root CA 1)',
  }, now);
  const claimCa = await loadOrCreateAuthority(paths.claimCa, join(privateDir, 'claim-ca.key'), {
    organization: 'Local IoT cloud',
    commonName: 'Local fleet claim CA',
  }, now);
  const deviceCas = new Map<string, CertificateAuthority>();
  for (const region of options.regions) {
    const path = paths.deviceCa[region] ?? join(dir, `device-ca-${region}.pem`);
    deviceCas.set(
      region,
      await loadOrCreateAuthority(path, join(privateDir, `device-ca-${region}.key`), {
        organization: 'Local IoT cloud',
        commonName: `Local AWS IoT device CA ${region}`,
      }, now),
    );
  }

  let claim: KeyAndCertificate | undefined;
  if ((await exists(paths.claimCert)) && (await exists(paths.claimKey))) {
    const [certificatePem, privateKeyPem] = await Promise.all([readFile(paths.claimCert, 'utf8'), readFile(paths.claimKey, 'utf8')]);
    if (issuedBy(certificatePem, claimCa)) {
      const x509 = new X509Certificate(certificatePem);
      claim = {
        certificatePem,
        certificateDer: x509.raw,
        certificateId: certificateIdOf(x509.raw),
        notBefore: new Date(x509.validFrom),
        notAfter: new Date(x509.validTo),
        privateKeyPem,
      };
    }
  }
  if (!claim) {
    const { privateKey, publicKey } = newEcKey();
    const issued = issueClientCertificate(claimCa, spkiOf(publicKey), now, encodeName({
      organization: 'Local IoT cloud',
      commonName: 'Fleet provisioning claim',
    }));
    claim = { ...issued, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    await writeFile(paths.claimCert, claim.certificatePem);
    await writeKeyFile(paths.claimKey, claim.privateKeyPem);
  }

  const dnsNames = [...new Set(['localhost', ...options.serverNames])];
  const ipAddresses = [...new Set(['127.0.0.1', '::1', ...options.serverAddresses])];
  const server = issueServerCertificate(rootCa, { dnsNames, ipAddresses }, now);
  await writeFile(paths.serverCert, server.certificatePem);
  await writeKeyFile(paths.serverKey, server.privateKeyPem);

  return {
    paths,
    rootCa,
    claimCa,
    claim,
    server,
    deviceCa(region) {
      const ca = deviceCas.get(region);
      if (!ca) throw new PkiError(`no device CA for region ${region}`);
      return ca;
    },
  };
}
