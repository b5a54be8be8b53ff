import type { KeyObject } from 'node:crypto';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import { InvalidAwsAnswer } from '../errors.js';
import type { Flow } from '../flow/context.js';
import { assertCertificateMatchesKey, parseCertificate } from '../keys.js';
import type { CreatedCertificate, IdentitySession } from '../mqtt.js';

/** A certificate AWS IoT issued, checked, with the private key it is for. */
export interface IssuedCredentials extends CreatedCertificate {
  readonly privateKeyPem: string;
}

type Issuing = Pick<Flow, 'certificateMode' | 'generateKeyAndCsr' | 'thingName' | 'whileThrottled'>;

/**
 * The certificate as AWS answered, with the key: in `csr` mode the key is made here and only
 * the CSR leaves the device; in `keys` mode AWS makes both. The key comes back as parsed where
 * it is in hand, so it is not parsed twice.
 */
async function issue(flow: Issuing, session: IdentitySession, region: string): Promise<{ made: IssuedCredentials; privateKey: KeyObject | string }> {
  if (flow.certificateMode === 'keys') {
    const answer = await flow.whileThrottled('create-certificate', region, () => session.createKeysAndCertificate());
    if (answer.privateKeyPem === undefined) throw new InvalidAwsAnswer('CreateKeysAndCertificate returned no private key');
    return { made: { ...answer, privateKeyPem: answer.privateKeyPem }, privateKey: answer.privateKeyPem };
  }
  const generated = await flow.generateKeyAndCsr(flow.thingName);
  const created = await flow.whileThrottled('create-certificate', region, () => session.createCertificateFromCsr(generated.csrPem));
  return { made: { ...created, privateKeyPem: generated.privateKeyPem }, privateKey: generated.privateKey };
}

/** Never store a certificate the device cannot use, or one that is not what AWS says it is. */
function check(made: IssuedCredentials, privateKey: KeyObject | string): void {
  const certificate = parseCertificate(made.certificatePem);
  assertCertificateMatchesKey(certificate, privateKey);
  if (certificateIdOf(certificate) !== made.certificateId.toLowerCase()) {
    throw new InvalidAwsAnswer(`the certificate is not certificate ${made.certificateId}`);
  }
}

/** Step `create-certificate`; the id comes back in AWS's own lower case, whatever case the answer used. */
export async function createCertificate(flow: Issuing & Pick<Flow, 'step'>, session: IdentitySession, region: string): Promise<IssuedCredentials> {
  const made = await flow.step(
    'create-certificate',
    async () => {
      const issued = await issue(flow, session, region);
      check(issued.made, issued.privateKey);
      return issued.made;
    },
    { region, describe: (value) => ({ detail: { certificateId: value.certificateId, mode: flow.certificateMode } }) },
  );
  return { ...made, certificateId: made.certificateId.toLowerCase() };
}
