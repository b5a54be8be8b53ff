import * as z from 'zod';

/**
 * How a device learns of a move or a rotation: one reserved key, `iotProvisioning`, in its
 * classic shadow (README, "How the device learns of a request"). Operators write requests into
 * the desired state of the shadow in the region the device runs in; the cloud writes `current`
 * into the shadow of the region the device runs in next once it has switched it to a new
 * certificate; the device acknowledges `current` in its reported state. Shared by `ops`, the
 * confirmation function and the device client, so the three read and write the same document.
 */

export const SHADOW_KEY = 'iotProvisioning';

/** The rotation template's name when the deployment names none (`lifecycle.rotationTemplateName`); the device's default too. */
export const DEFAULT_ROTATION_TEMPLATE_NAME = 'GlobalFleetRotation';

const regionCode = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/);
const id = z.string().min(1).max(64);
const isoTime = z.string().min(1).max(40);

export const moveRequestSchema = z.object({ id, to: z.union([regionCode, z.literal('nearest')]), requestedAt: isoTime.optional() });
export type MoveRequestDoc = z.infer<typeof moveRequestSchema>;
export const rotateRequestSchema = z.object({ id, requestedAt: isoTime.optional() });
export type RotateRequestDoc = z.infer<typeof rotateRequestSchema>;
export const currentSchema = z.object({ certificateId: z.string().regex(/^[0-9a-f]{64}$/), region: regionCode });
export type CurrentDoc = z.infer<typeof currentSchema>;

/** What the device reads in `state.desired.iotProvisioning`; anything it does not know is ignored. */
export const desiredLifecycleSchema = z.object({
  move: moveRequestSchema.optional().catch(undefined),
  rotate: rotateRequestSchema.optional().catch(undefined),
  current: currentSchema.optional().catch(undefined),
});
export type DesiredLifecycle = z.infer<typeof desiredLifecycleSchema>;

/** The device's view of a shadow document (GetThingShadow, `/get/accepted`, a `/update/delta`'s state). */
export function desiredLifecycleOf(desired: unknown): DesiredLifecycle {
  const section = typeof desired === 'object' && desired !== null ? (desired as Record<string, unknown>)[SHADOW_KEY] : undefined;
  const parsed = desiredLifecycleSchema.safeParse(section ?? {});
  return parsed.success ? parsed.data : {};
}

/** An update document for the shadow: only `iotProvisioning`'s keys, the others left as they are. */
function desiredUpdate(section: Record<string, unknown>): string {
  return JSON.stringify({ state: { desired: { [SHADOW_KEY]: section } } });
}

export function moveRequestUpdate(request: MoveRequestDoc): string {
  return desiredUpdate({ move: request });
}

export function rotateRequestUpdate(request: RotateRequestDoc): string {
  return desiredUpdate({ rotate: request });
}

/** The switch is final: the certificate the device now runs on; the requests it answered are cleared. */
export function currentUpdate(current: CurrentDoc): string {
  return desiredUpdate({ current, move: null, rotate: null });
}

/** The device's acknowledgement, which also clears the delta `current` made. */
export function reportedCurrentUpdate(current: CurrentDoc): string {
  return JSON.stringify({ state: { reported: { [SHADOW_KEY]: { current } } } });
}

/** The shadow's state without the reserved key: what `migrate` carries to the new region. */
export function withoutLifecycle(section: unknown): Record<string, unknown> | undefined {
  if (typeof section !== 'object' || section === null || Array.isArray(section)) return undefined;
  const { [SHADOW_KEY]: _reserved, ...rest } = section as Record<string, unknown>;
  return Object.keys(rest).length > 0 ? rest : undefined;
}
