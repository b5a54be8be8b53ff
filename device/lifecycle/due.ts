import { parseCertificate } from '../keys.js';
import type { LifecycleSettings } from './options.js';

const DAY_MS = 86_400_000;

/**
 * Why the device should rotate its certificate on its own, or undefined: `rotateAfterDays` counts
 * from the certificate's notBefore, `rotateBeforeExpiryDays` back from its notAfter. The
 * certificate itself is the record, so nothing else has to be kept (a rotated certificate starts
 * its count again).
 */
export function rotationDue(certificatePem: string, now: number, settings: Pick<LifecycleSettings, 'rotateAfterDays' | 'rotateBeforeExpiryDays'>): string | undefined {
  if (settings.rotateAfterDays === undefined && settings.rotateBeforeExpiryDays === undefined) return undefined;
  const certificate = parseCertificate(certificatePem);
  const ageDays = (now - Date.parse(certificate.validFrom)) / DAY_MS;
  if (settings.rotateAfterDays !== undefined && ageDays >= settings.rotateAfterDays) {
    return `certificate is ${Math.floor(ageDays)} days old (rotate after ${settings.rotateAfterDays})`;
  }
  const leftDays = (Date.parse(certificate.validTo) - now) / DAY_MS;
  if (settings.rotateBeforeExpiryDays !== undefined && leftDays <= settings.rotateBeforeExpiryDays) {
    return `certificate expires in ${Math.max(0, Math.floor(leftDays))} days (rotate ${settings.rotateBeforeExpiryDays} days before)`;
  }
  return undefined;
}
