import { generateKeyPairSync } from 'node:crypto';
import { DescribeCertificateCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAIM_POLICY_NAME } from '@global-iot/local/cloud.js';
import { createCertificateAuthority, issueClientCertificate } from '@global-iot/local/pki.js';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { OPS_REGIONS, type OpsCloud, startOpsCloud, writeTestFile } from './helpers.js';

let c: OpsCloud;
beforeAll(async () => {
  c = await startOpsCloud();
});
afterAll(async () => {
  await c.close();
});

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

/** A new claim certificate, as a factory CA would issue it. */
function claimCertificate(): { pem: string; id: string } {
  const ca = createCertificateAuthority({ commonName: 'Factory claim CA' }, new Date());
  const spki = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
  const issued = issueClientCertificate(ca, spki, new Date());
  return { pem: issued.certificatePem, id: issued.certificateId };
}

async function statusIn(region: string, certificateId: string): Promise<string | undefined> {
  try {
    const out = await c.iot(region).send(new DescribeCertificateCommand({ certificateId }));
    return out.certificateDescription?.status;
  } catch {
    return undefined;
  }
}

describe('ops claim register', () => {
  it('registers the certificate ACTIVE in every enabled region; a re-run finds it there', async () => {
    // Prepare
    const cert = claimCertificate();
    const file = writeTestFile(c.dir, 'claim.pem', cert.pem);
    // Act
    const dry = await c.cli(['claim', 'register', '--cert', file, '--dry-run', '--json']);
    const afterDry = await statusIn('us-east-1', cert.id);
    const first = await c.cli(['claim', 'register', '--cert', file, '--json']);
    const again = await c.cli(['claim', 'register', '--cert', file]);
    // Assess
    expect((json(dry.out)['regions'] as { registration: string }[]).map((r) => r.registration)).toEqual(['would-register', 'would-register', 'would-register']);
    expect(afterDry).toBeUndefined();
    expect(first.code).toBe(EXIT.ok);
    const report = json(first.out);
    expect(report['certificateId']).toBe(cert.id);
    expect(report['regions']).toEqual(
      OPS_REGIONS.map((region) => ({ region, certificateId: cert.id, registration: 'registered', status: 'ACTIVE', policy: 'not-requested' })),
    );
    for (const region of OPS_REGIONS) expect(await statusIn(region, cert.id)).toBe('ACTIVE');
    expect(again.code).toBe(EXIT.ok);
    expect(again.out).toMatch(/eu-central-1\s+exists\s+ACTIVE/);
  });

  it('leaves a certificate an operator deactivated as it is, and says so (exit 3)', async () => {
    // Prepare
    const cert = claimCertificate();
    const file = writeTestFile(c.dir, 'claim-2.pem', cert.pem);
    await c.cli(['claim', 'register', '--cert', file, '--regions', 'us-east-1,ap-northeast-1']);
    await c.iot('ap-northeast-1').send(new UpdateCertificateCommand({ certificateId: cert.id, newStatus: 'INACTIVE' }));
    // Act
    const run = await c.cli(['claim', 'register', '--cert', file]);
    // Assess
    expect(run.code).toBe(EXIT.partial);
    expect(run.out).toMatch(/us-east-1\s+exists\s+ACTIVE/);
    expect(run.out).toMatch(/eu-central-1\s+registered\s+ACTIVE/);
    expect(run.out).toMatch(/ap-northeast-1\s+exists\s+INACTIVE\s+not-requested\s+not ACTIVE: left as it is/);
    expect(await statusIn('ap-northeast-1', cert.id)).toBe('INACTIVE');
  });

  it('attaches the claim policy in every region, and a re-run is harmless', async () => {
    // Prepare
    const cert = claimCertificate();
    const file = writeTestFile(c.dir, 'claim-4.pem', cert.pem);
    // Act
    const first = await c.cli(['claim', 'register', '--cert', file, '--policy-name', CLAIM_POLICY_NAME, '--json']);
    const again = await c.cli(['claim', 'register', '--cert', file, '--policy-name', CLAIM_POLICY_NAME, '--json']);
    // Assess
    expect(first.code).toBe(EXIT.ok);
    expect(again.code).toBe(EXIT.ok);
    expect((json(first.out)['regions'] as { policy: string }[]).map((r) => r.policy)).toEqual(OPS_REGIONS.map(() => 'attached'));
    for (const region of OPS_REGIONS) expect(c.cloud.region(region).state.policyNamesOf(cert.id)).toEqual([CLAIM_POLICY_NAME]);
  });

  it('reports a claim policy that cannot be attached, region by region', async () => {
    // Prepare
    const cert = claimCertificate();
    const file = writeTestFile(c.dir, 'claim-3.pem', cert.pem);
    // Act
    const run = await c.cli(['claim', 'register', '--cert', file, '--policy-name', 'NoSuchClaimPolicy', '--regions', 'eu-central-1', '--json']);
    // Assess
    expect(run.code).toBe(EXIT.failed);
    expect((json(run.out)['regions'] as unknown[])[0]).toMatchObject({ registration: 'registered', policy: 'error', error: expect.stringMatching(/^AttachPolicy: /) });
  });

  it('refuses a private key, a file that is not a certificate, and a missing --cert (exit 2)', async () => {
    // Prepare
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const cert = claimCertificate();
    const withKey = writeTestFile(c.dir, 'bundle.pem', `${cert.pem}${key}`);
    const garbage = writeTestFile(c.dir, 'garbage.pem', 'not a certificate');
    // Act
    const runs = await Promise.all([
      c.cli(['claim', 'register', '--cert', withKey]),
      c.cli(['claim', 'register', '--cert', garbage]),
      c.cli(['claim', 'register']),
      c.cli(['claim', 'register', '--cert', garbage, '--policy-name', 'bad policy']),
    ]);
    // Assess
    for (const run of runs) expect(run.code).toBe(EXIT.usage);
    expect(runs[0]?.err).toMatch(/holds a private key/);
    expect(runs[0]?.err).not.toContain('PRIVATE KEY-----');
    expect(await statusIn('us-east-1', cert.id)).toBeUndefined();
  });
});
