import { createRequire } from 'node:module';

/**
 * DynamoDB's `ReturnValuesOnConditionCheckFailure` for dynalite, which predates it: with
 * `ALL_OLD`, a PutItem, UpdateItem or DeleteItem whose condition fails carries the item as the
 * condition saw it in the ConditionalCheckFailedException (`Item`), so that the caller learns why
 * without a second request (and without the race a later read has). Installed from here, the
 * package unchanged: the parameter joins those three actions' request types (dynalite drops
 * parameters it does not know, and checks the enumeration as DynamoDB does), and dynalite's one
 * condition check (`db.checkConditional(request, storedItem)`), which they call, is wrapped.
 */

type DynaliteError = Error & { statusCode?: number; body?: Record<string, unknown> };

interface DynaliteDb {
  checkConditional: (data: Record<string, unknown>, existingItem: unknown) => DynaliteError | null | undefined;
}

interface ActionValidation {
  types: Record<string, unknown>;
}

const PARAMETER = 'ReturnValuesOnConditionCheckFailure';
const ACTIONS = ['putItem', 'updateItem', 'deleteItem'] as const;
const INSTALLED = Symbol.for('global-iot.dynalite-condition-failure');

/** The same check, answering with the stored item where the request asks for it. */
export function withConditionFailureItem(check: DynaliteDb['checkConditional']): DynaliteDb['checkConditional'] {
  return (data, existingItem) => {
    const failure = check(data, existingItem);
    if (failure?.body && data[PARAMETER] === 'ALL_OLD' && existingItem !== undefined && existingItem !== null) {
      failure.body['Item'] = existingItem;
    }
    return failure;
  };
}

/** Installs it in this thread's dynalite (each thread has its own modules); once per thread. */
export function installConditionFailureItems(): void {
  const require = createRequire(import.meta.url);
  const db = require('dynalite/db') as DynaliteDb & { [INSTALLED]?: true };
  if (db[INSTALLED]) return;
  for (const action of ACTIONS) {
    const validation = require(`dynalite/validations/${action}`) as ActionValidation;
    validation.types[PARAMETER] = { type: 'String', enum: ['ALL_OLD', 'NONE'] };
  }
  db.checkConditional = withConditionFailureItem(db.checkConditional.bind(db));
  db[INSTALLED] = true;
}
