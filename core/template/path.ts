/** One step into a JSON document: an object key or an array index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Formats a location as a JSONPath expression (`$.Resources.thing.Properties.ThingGroups[1]`);
 * keys that are not plain identifiers, such as `AWS::IoT::Certificate::Id`, use bracket form.
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
