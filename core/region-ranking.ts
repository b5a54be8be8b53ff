import * as z from 'zod';

/**
 * What "nearest" means when the region choice knows where a device is: `network` ranks by the
 * round trip the network-distance model estimates (core/network/), `great-circle` by distance on
 * the map (the original sample's rule). Its own module so the configuration schema can name it
 * without pulling the model's table into every package that reads the configuration.
 */
export const regionRankingSchema = z.enum(['network', 'great-circle']);
export type RegionRanking = z.infer<typeof regionRankingSchema>;
