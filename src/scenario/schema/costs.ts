/**
 * Cost overrides: cost name (from the cost table, src/sim/costs.ts) ->
 * duration. Unknown names are rejected with the list of known ones.
 */
import { z } from 'zod';
import { COST_NAMES, isCostName } from '../../sim/costs.js';
import { Duration } from './common.js';

export const CostOverrides = z
  .record(z.string(), Duration)
  .superRefine((rec, ctx) => {
    for (const name of Object.keys(rec)) {
      if (!isCostName(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `unknown cost '${name}' (known: ${COST_NAMES.join(', ')})`,
        });
      }
    }
  })
  .meta({
    description: `Cost table overrides, e.g. { hcall_kernel: 7.6us }. Names: ${COST_NAMES.join(', ')}`,
  });
