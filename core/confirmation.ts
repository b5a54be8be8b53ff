import * as z from 'zod';

/**
 * Confirmation through AWS IoT Basic Ingest. A device's first connection with its new
 * certificate publishes one message to `$aws/rules/<rule>/provisioning/confirm`; the rule (and
 * nothing else: Basic Ingest bypasses the message broker, so no subscriber sees it, and nothing
 * is billed as messaging) takes the thing from `clientid()` and the certificate from
 * `principal()`, which AWS IoT fills in from the connection, so no payload can forge them, and
 * invokes the confirmation function. Reconnections publish nothing, so they cost nothing.
 */

/**
 * AWS IoT rule names: 1 to 128 characters of [a-zA-Z0-9_] (no hyphen, unlike most AWS names).
 * The rule name is part of the topic devices publish to.
 */
export const confirmationRuleNameSchema = z
  .string()
  .regex(/^[a-zA-Z0-9_]{1,128}$/, 'IoT rule names are 1 to 128 characters of [a-zA-Z0-9_]');

/** The rule's name when the configuration names none; devices use the same default. */
export const DEFAULT_CONFIRMATION_RULE_NAME = 'GlobalIotConfirmation';

/**
 * The topic after the Basic Ingest prefix: what the rule's FROM clause names. Devices may not
 * publish to it directly (their policy allows only the Basic Ingest form), so the rule sees
 * only Basic Ingest messages.
 */
export const CONFIRMATION_TOPIC = 'provisioning/confirm';

/** The rule's SQL: the identity of the connection that published, never the payload. */
export const CONFIRMATION_RULE_SQL = `SELECT clientid() AS clientId, principal() AS principal, timestamp() AS receivedAt FROM '${CONFIRMATION_TOPIC}'`;

/** The rule engine version the SQL is written for. */
export const CONFIRMATION_RULE_SQL_VERSION = '2016-03-23';

/** The topic a device publishes its confirmation to: Basic Ingest's `$aws/rules/<rule>/` and the rule's topic. */
export function confirmationTopic(ruleName: string): string {
  return `$aws/rules/${ruleName}/${CONFIRMATION_TOPIC}`;
}

/**
 * What the rule hands the confirmation function: the client id and the principal of the
 * connection that published (for a certificate, its id). Unknown fields are dropped.
 */
export const confirmationEventSchema = z.object({
  clientId: z.string().min(1).max(128),
  principal: z.string().min(1).max(512),
  receivedAt: z.number().int().nonnegative().optional(),
});
export type ConfirmationEvent = z.infer<typeof confirmationEventSchema>;
