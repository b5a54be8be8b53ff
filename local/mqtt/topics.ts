/**
 * MQTT topic rules as AWS IoT applies them: UTF-8 names of at most 256 bytes, no more than 7
 * slashes outside the `$aws/` reserved space, wildcards only in filters and only as whole levels.
 */
export const MAX_TOPIC_BYTES = 256;
export const MAX_TOPIC_SLASHES = 7;

function withinAwsLimits(value: string): boolean {
  if (value.length === 0 || Buffer.byteLength(value, 'utf8') > MAX_TOPIC_BYTES || value.includes('\u0000')) return false;
  if (value.startsWith('$aws/')) return true;
  let slashes = 0;
  for (const ch of value) if (ch === '/') slashes++;
  return slashes <= MAX_TOPIC_SLASHES;
}

export function isValidTopicName(topic: string): boolean {
  return withinAwsLimits(topic) && !topic.includes('+') && !topic.includes('#');
}

export function isValidTopicFilter(filter: string): boolean {
  if (!withinAwsLimits(filter)) return false;
  const levels = filter.split('/');
  return levels.every((level, index) => {
    if (level.includes('#')) return level === '#' && index === levels.length - 1;
    if (level.includes('+')) return level === '+';
    return true;
  });
}

/** MQTT 3.1.1 section 4.7: wildcards at the first level never match topics starting with '$'. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
