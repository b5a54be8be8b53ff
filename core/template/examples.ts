import { readFileSync } from 'node:fs';

/** Template bodies shipped in ./examples: the project's default, and AWS's documented examples. */
export const EXAMPLE_TEMPLATES = {
  /** The project's fleet template; the pre-provisioning hook supplies Region and AssignedAt. */
  globalFleet: 'global-fleet.json',
  /** AWS's fleet provisioning example (mapping, DeviceConfiguration, inline policy document). */
  awsFleetProvisioning: 'aws-fleet-provisioning.json',
  /** AWS's JITP example: parameters read from the device certificate's subject. Parse as JITP. */
  awsJitp: 'aws-jitp.json',
  /** AWS's bulk registration example naming an existing certificate by id. Parse as JITP. */
  awsBulkCertificateId: 'aws-bulk-certificate-id.json',
} as const;

export type ExampleTemplate = keyof typeof EXAMPLE_TEMPLATES;

/** Reads an example template body as text, ready for parseTemplate or CreateProvisioningTemplate. */
export function readExampleTemplate(name: ExampleTemplate): string {
  return readFileSync(new URL(`./examples/${EXAMPLE_TEMPLATES[name]}`, import.meta.url), 'utf8');
}
