import { type DeviceRecord, deviceRecordSchema } from '@global-iot/core/registry/index.js';

/** Every field of a registry record, in the schema's order: the rows of `status`, the columns of `export --format csv`. */
export const RECORD_FIELDS = Object.keys(deviceRecordSchema.shape) as (keyof DeviceRecord)[];

/** A record field as text: objects (attributes) as JSON, absent as ''. */
export function fieldText(value: DeviceRecord[keyof DeviceRecord]): string {
  if (value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
