import * as z from 'zod';

/**
 * A function's resource-based policy, as Lambda keeps one: the permissions AddPermission grants
 * (`principal` may invoke, from `sourceAccount` and a `sourceArn` that matches), rendered as
 * GetPolicy answers it. The local cloud's IoT checks it before it invokes a pre-provisioning hook,
 * as AWS IoT needs the hook's permission; a function registered without a policy is not checked
 * (the emulator's test functions), one with a policy is held to it, even when it is empty.
 */

export interface LambdaPermission {
  readonly sid: string;
  /** A service principal (`iot.amazonaws.com`) or an account id. */
  readonly principal: string;
  readonly action: string;
  readonly sourceAccount?: string;
  /** An ARN, `*` and `?` as wildcards (ArnLike). */
  readonly sourceArn?: string;
}

export interface InvokingCaller {
  readonly principal: string;
  readonly sourceAccount: string;
  readonly sourceArn: string;
}

/** AddPermission's body (the fields the emulator models; the others are refused by their absence here). */
export const addPermissionSchema = z.object({
  StatementId: z.string().regex(/^[a-zA-Z0-9_-]{1,100}$/, 'StatementId is 1-100 of [a-zA-Z0-9_-]'),
  Action: z.string().regex(/^lambda:[A-Za-z*]+$/, 'Action is lambda:<action>'),
  Principal: z.string().min(1).max(256),
  SourceAccount: z.string().regex(/^\d{12}$/).optional(),
  SourceArn: z.string().min(1).max(1024).optional(),
});

export function permissionOf(body: z.infer<typeof addPermissionSchema>): LambdaPermission {
  return {
    sid: body.StatementId,
    principal: body.Principal,
    action: body.Action,
    ...(body.SourceAccount !== undefined ? { sourceAccount: body.SourceAccount } : {}),
    ...(body.SourceArn !== undefined ? { sourceArn: body.SourceArn } : {}),
  };
}

function arnLike(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(value);
}

/** Whether the policy lets the caller invoke the function; undefined policy: not modelled, allowed. */
export function allowsInvoke(policy: readonly LambdaPermission[] | undefined, caller: InvokingCaller): boolean {
  if (policy === undefined) return true;
  return policy.some(
    (p) =>
      p.principal === caller.principal &&
      (p.action === 'lambda:InvokeFunction' || p.action === 'lambda:*') &&
      (p.sourceAccount === undefined || p.sourceAccount === caller.sourceAccount) &&
      (p.sourceArn === undefined || arnLike(p.sourceArn, caller.sourceArn)),
  );
}

/** One statement as GetPolicy shows it. */
export function statementJson(p: LambdaPermission, functionArn: string): Record<string, unknown> {
  const condition: Record<string, Record<string, string>> = {};
  if (p.sourceAccount !== undefined) condition['StringEquals'] = { 'AWS:SourceAccount': p.sourceAccount };
  if (p.sourceArn !== undefined) condition['ArnLike'] = { 'AWS:SourceArn': p.sourceArn };
  return {
    Sid: p.sid,
    Effect: 'Allow',
    Principal: /^\d{12}$/.test(p.principal) ? { AWS: `arn:aws:iam::${p.principal}:root` } : { Service: p.principal },
    Action: p.action,
    Resource: functionArn,
    ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
  };
}

/** The whole policy document as GetPolicy's `Policy` string. */
export function policyJson(policy: readonly LambdaPermission[], functionArn: string): string {
  return JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: policy.map((p) => statementJson(p, functionArn)) });
}
