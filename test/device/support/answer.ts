import type { BootstrapAnswer } from '@global-iot/device/bootstrap-client.js';

/** A bootstrap answer for eu-west-1 with template Fleet and a ticket live for ten minutes from `now`; `fields` change any part. */
export function bootstrapAnswer(fields: Partial<BootstrapAnswer> = {}, now = Date.now()): BootstrapAnswer {
  return {
    status: 'success',
    endpointAddress: 'iot.example.test',
    region: 'eu-west-1',
    distance: null,
    templateName: 'Fleet',
    ticket: 'ticket',
    ticketExpiresAt: new Date(now + 600_000).toISOString(),
    fallbacks: [],
    ...fields,
  };
}
