import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The product's fleet-provisioning template: the CDK app deploys it in every region (unless the
 * configuration names another file) and the local cloud serves it. The pre-provisioning hook
 * supplies its Region and AssignedAt parameters.
 */
export const PRODUCT_TEMPLATE_FILE = fileURLToPath(new URL('./global-fleet.json', import.meta.url));

/** The product template's body as text, ready for parseTemplate or CreateProvisioningTemplate. */
export function readProductTemplate(): string {
  return readFileSync(PRODUCT_TEMPLATE_FILE, 'utf8');
}

/**
 * The rotation template (`lifecycle.rotationTemplateName`): a new certificate for a thing that
 * already exists, with the device policy, and nothing else changed (no attribute, so the thing's
 * own stay as they are). A device calls it over its current certificate; the hook's rotation rules
 * (pre-provisioning-hook/rotation.ts) allow only the same thing in the same region. Deployed in
 * every region beside the product template, and served by the local cloud.
 */
export const ROTATION_TEMPLATE_FILE = fileURLToPath(new URL('./rotation.json', import.meta.url));

export function readRotationTemplate(): string {
  return readFileSync(ROTATION_TEMPLATE_FILE, 'utf8');
}
