import type { PathSegment } from '@global-iot/core/template/path.js';
import { MAX_CONDITION_OPERANDS, MIN_CONDITION_OPERANDS, asConditionCall } from '@global-iot/core/template/syntax.js';
import type { Json } from '@global-iot/core/template/types.js';
import { TemplateEvaluationError } from './errors.js';
import { describeValue, type IntrinsicEnvironment } from './intrinsics.js';

function operands(args: Json, min: number, max: number, name: string, path: readonly PathSegment[]): Json[] {
  if (!Array.isArray(args) || args.length < min || args.length > max) {
    const count = min === max ? `${min}` : `${min} to ${max}`;
    throw new TemplateEvaluationError(path, `${name} takes a list of ${count} arguments`);
  }
  return args;
}

/** Evaluates a condition expression from the Conditions section to true or false. */
export function evaluateCondition(env: IntrinsicEnvironment, node: Json, path: readonly PathSegment[]): boolean {
  const call = asConditionCall(node);
  if (call === undefined) {
    throw new TemplateEvaluationError(path, 'expected a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition)');
  }
  const inner = [...path, call.name];
  switch (call.name) {
    case 'Condition':
      if (typeof call.args !== 'string') throw new TemplateEvaluationError(inner, 'Condition takes a condition name');
      return env.condition(call.args, inner);
    case 'Fn::Equals': {
      const [left, right] = operands(call.args, 2, 2, call.name, inner).map((operand, index) => {
        const value = env.evaluate(operand, [...inner, index]);
        if (typeof value !== 'string') {
          throw new TemplateEvaluationError([...inner, index], `Fn::Equals compares strings, got ${describeValue(value)}`);
        }
        return value;
      });
      return left === right;
    }
    case 'Fn::Not': {
      const [operand] = operands(call.args, 1, 1, call.name, inner);
      return !evaluateCondition(env, operand ?? null, [...inner, 0]);
    }
    default: {
      // Fn::And / Fn::Or: every operand is evaluated so that a broken one is reported whatever the others say.
      const results = operands(call.args, MIN_CONDITION_OPERANDS, MAX_CONDITION_OPERANDS, call.name, inner).map(
        (operand, index) => evaluateCondition(env, operand, [...inner, index]),
      );
      return call.name === 'Fn::And' ? results.every(Boolean) : results.some(Boolean);
    }
  }
}
