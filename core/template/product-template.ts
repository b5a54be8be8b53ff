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
