import { performance } from 'node:perf_hooks';
import { DependencyUnavailable, describeError } from '@global-iot/core/errors.js';
import type { InvocationRecorder } from '@global-iot/core/lambda-telemetry.js';
import {
  ASSIGNED_AT_PARAM,
  hookEventSchema,
  type HookResponse,
  parseTemplateArn,
  REGION_PARAM,
  THING_NAME_PARAM,
  TICKET_PARAM,
} from '@global-iot/core/provisioning-params.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { claimClientId } from '@global-iot/core/claim-client-id.js';
import { isValidThingName } from '@global-iot/core/thing-name.js';
import { InvalidTicket, type TicketClaims, type TicketVerificationKeys, verifyTicket } from '@global-iot/core/ticket.js';
import { withTimeout } from '@global-iot/core/timeout.js';
import { decideRotation } from './rotation.js';

/**
 * The pre-provisioning hook's decision. AWS IoT calls the hook on RegisterThing in the region a
 * device was assigned to; the hook lets exactly one certificate per assignment through, and
 * denies everything it cannot prove is that certificate's first (or repeated) request.
 */

/**
 * AWS gives the hook 5 s; answering by 2.5 s leaves room for a cold start and for IoT's own
 * invocation overhead, and keeps the answer under the 3 s this project promises.
 */
export const DEFAULT_HOOK_DEADLINE_MS = 2_500;

export interface HookSettings {
  /** Allowed hook calls per assignment chain: the first attempt plus retries. */
  maxProvisionAttempts: number;
  /** A RegisterThing must come from the claim session `<prefix><ThingName>`. */
  claimClientIdPrefix: string;
  /** Also accept the bare thing name as client id (firmware from before the prefix). */
  legacyClaimClientIds: boolean;
  /** The template devices rotate their certificate through: its calls follow the rotation rules (rotation.ts). */
  rotationTemplateName: string;
}

export interface HookDeps {
  registry: DeviceRegistry;
  ticketKeys: TicketVerificationKeys;
  /** Clock in ms since the epoch, for ticket expiry. */
  now: () => number;
  settings: HookSettings;
  /** Receives one record per decision (log line and metrics); never the ticket. */
  record: InvocationRecorder;
  /** Answer deny if no decision is reached within this many ms. */
  deadlineMs?: number;
}

type Decision = { allow: true; reason: string; overrides: Record<string, string> } | { allow: false; reason: string };

/** What the decision has learnt about the request so far, for the log line. */
interface DecisionContext {
  thing?: string;
  region?: string;
  certificateId?: string;
  ticketId?: string;
  /** The claim session used the bare thing name (allowed only with legacyClaimClientIds). */
  legacyClientId?: boolean;
  error?: string;
}

const deny = (reason: string): Decision => ({ allow: false, reason });

/** The decision took longer than the hook's deadline. */
class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

/**
 * The claim session must be the thing's own (`<prefix><ThingName>`), so a RegisterThing names the
 * thing its session was opened for. During a migration window the bare name is accepted too, and
 * recorded, so operators can see how many devices still use it.
 */
function checkClientId(clientId: string, thingName: string, settings: HookSettings, ctx: DecisionContext): string | undefined {
  if (clientId === claimClientId(settings.claimClientIdPrefix, thingName)) return undefined;
  if (settings.legacyClaimClientIds && clientId === thingName) {
    ctx.legacyClientId = true;
    return undefined;
  }
  return 'client id is not the claim client id of the thing';
}

async function evaluate(event: unknown, deps: HookDeps, ctx: DecisionContext): Promise<Decision> {
  const parsed = hookEventSchema.safeParse(event);
  if (!parsed.success) return deny('malformed event');
  const { certificateId, templateArn, clientId, parameters } = parsed.data;
  ctx.certificateId = certificateId;
  const { region, templateName } = parseTemplateArn(templateArn);
  ctx.region = region;
  if (templateName === deps.settings.rotationTemplateName) {
    const rotation = await decideRotation(parsed.data, region, { registry: deps.registry, maxAttempts: deps.settings.maxProvisionAttempts });
    if (rotation.thing !== undefined) ctx.thing = rotation.thing;
    return rotation.allow ? { allow: true, reason: rotation.reason, overrides: {} } : deny(rotation.reason);
  }

  const thingName = parameters[THING_NAME_PARAM];
  if (thingName === undefined) return deny('missing thing name parameter');
  if (!isValidThingName(thingName)) return deny('invalid thing name parameter');
  ctx.thing = thingName;
  const clientIdProblem = checkClientId(clientId, thingName, deps.settings, ctx);
  if (clientIdProblem) return deny(clientIdProblem);

  const ticket = parameters[TICKET_PARAM];
  if (ticket === undefined) return deny('missing ticket parameter');
  let claims: TicketClaims;
  try {
    claims = verifyTicket(ticket, deps.ticketKeys, deps.now());
  } catch (error) {
    if (error instanceof InvalidTicket) return deny(`invalid ticket: ${error.message}`);
    throw error;
  }
  ctx.ticketId = claims.jti;
  if (claims.sub !== thingName) return deny('ticket names another thing');
  if (claims.rgn !== region) return deny('ticket names another region');

  const outcome = await deps.registry.beginProvisioning({
    thingName,
    region,
    ticketId: claims.jti,
    certificateId,
    maxAttempts: deps.settings.maxProvisionAttempts,
  });
  if (!outcome.allowed) return deny(`registry: ${outcome.reason}`);
  return {
    allow: true,
    reason: outcome.repeated ? 'repeated' : 'allowed',
    overrides: {
      [REGION_PARAM]: region,
      // The bootstrap always records assigned_at with the ticket; the ticket's issue time is the
      // same moment, should a record written by an older bootstrap lack it.
      [ASSIGNED_AT_PARAM]: outcome.record.assigned_at ?? new Date(claims.iat * 1000).toISOString(),
    },
  };
}

/** Turns any failure into a deny: the hook fails closed. */
async function evaluateClosed(event: unknown, deps: HookDeps, ctx: DecisionContext): Promise<Decision> {
  try {
    return await evaluate(event, deps, ctx);
  } catch (error) {
    ctx.error = describeError(error);
    return deny(error instanceof DependencyUnavailable ? 'registry unavailable' : 'internal error');
  }
}

/**
 * Decides one RegisterThing. Never throws and never takes longer than the deadline: every error,
 * and any dependency that does not answer in time, is a deny. Records one line per decision,
 * counted by outcome (allow, deny) and by reason.
 *
 * A registry call still running at the deadline is left to finish: if its write lands after the
 * deny, the device's retry (with a fresh ticket) spends one attempt, and the certificate that
 * was denied is never activated.
 */
export async function decideProvisioning(event: unknown, deps: HookDeps): Promise<HookResponse> {
  const started = performance.now();
  const ctx: DecisionContext = {};
  let decision: Decision;
  try {
    decision = await withTimeout(evaluateClosed(event, deps, ctx), deps.deadlineMs ?? DEFAULT_HOOK_DEADLINE_MS, () => new DeadlineExceeded());
  } catch (error) {
    // evaluateClosed never rejects: what arrives here is the deadline.
    decision = deny(error instanceof DeadlineExceeded ? 'deadline exceeded' : 'internal error');
  }
  const outcome = decision.allow ? 'allow' : 'deny';
  deps.record({
    event: 'provisioning-decision',
    ...(ctx.thing === undefined ? {} : { thing: ctx.thing }),
    outcome,
    durationMs: performance.now() - started,
    fields: {
      region: ctx.region,
      certificateId: ctx.certificateId,
      ticketId: ctx.ticketId,
      reason: decision.reason,
      ...(ctx.legacyClientId ? { legacyClientId: true } : {}),
      ...(ctx.error ? { error: ctx.error } : {}),
    },
    // Reasons name their outcome ('allowed', 'ticket expired'): counted by each, not by both at once.
    dimensions: [{ Outcome: outcome }, { Reason: decision.reason }],
  });
  return decision.allow
    ? { allowProvisioning: true, parameterOverrides: decision.overrides }
    : { allowProvisioning: false, parameterOverrides: {} };
}
