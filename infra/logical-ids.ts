import { createHash } from 'node:crypto';

/**
 * A CloudFormation logical id made from a construct's path below its stack, exactly as CDK makes
 * it (aws-cdk-lib's `makeUniqueId`, what `Stack.allocateLogicalId` uses): `Default` components
 * vanish; a single component is the id itself; otherwise the components, with `Resource` and
 * repeats left out of the readable part, then the first 8 hex digits of the MD5 of the whole
 * path. CDK does not export it; a stack that groups resources in constructs computes, with it,
 * the ids they had before the grouping, since a changed logical id replaces the resource on
 * deploy (and a named one, such as an IoT policy, then fails: the new one's name is taken).
 * test/infra/parts.test.ts checks it against CDK's own ids.
 */
export function logicalIdFromPath(path: readonly string[]): string {
  const components = path.filter((c) => c !== 'Default');
  const readable = (c: string) => c.replace(/[^A-Za-z0-9]/g, '');
  const [only] = components;
  if (only === undefined) throw new Error('a logical id needs at least one path component');
  if (components.length === 1 && readable(only).length <= 255) return readable(only);
  const hash = createHash('md5').update(components.join('/')).digest('hex').slice(0, 8).toUpperCase();
  const deduplicated: string[] = [];
  for (const c of components) {
    const last = deduplicated.at(-1);
    if (last === undefined || !last.endsWith(c)) deduplicated.push(c);
  }
  return deduplicated.filter((c) => c !== 'Resource').map(readable).join('').slice(0, 240) + hash;
}
