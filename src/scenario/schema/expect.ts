/**
 * Expectations: assertions on the run's result. A failed expectation makes
 * `eehsim run` exit 1 and say which one and why.
 */
import { z } from 'zod';
import { Count, DeviceRef, Duration, Ident } from './common.js';

/** PE states as read-slot-reset-state2 and VFIO report them (eeh-facts.md 2). */
export const PE_STATES = {
  normal: 0,
  reset: 1,
  frozen: 2,
  'dma-frozen': 4,
  unavailable: 5,
} as const;
export type PeStateName = keyof typeof PE_STATES;

export const PeState = z.union(
  [
    z.enum(Object.keys(PE_STATES) as [PeStateName, ...PeStateName[]]),
    z.literal([0, 1, 2, 4, 5]),
    z.literal('disabled'),
  ],
  { error: `expected a PE state: ${Object.keys(PE_STATES).join(', ')}, disabled, or 0/1/2/4/5` },
);

export const StepExpect = z.strictObject({
  rc: z.number().int().optional().meta({ description: 'RTAS status / ioctl return value' }),
  rets: z.array(z.number().int()).optional().meta({
    description: 'RTAS return words after the status (prefix match)',
  }),
});

export const Expect = z.strictObject({
  recovered: z
    .union([z.literal('all'), z.array(DeviceRef)])
    .optional()
    .meta({
      description: "Devices that must end recovered ('all': every faulted device)",
    }),
  failed: z.array(DeviceRef).optional().meta({
    description: 'Devices whose recovery must fail (failed or PE disabled)',
  }),
  unaffected: z.array(DeviceRef).optional().meta({ description: 'Devices never frozen' }),
  max_silent_reads: Count.optional().meta({
    description: 'All-1s reads consumed as data while frozen (silent corruption), total',
  }),
  max_lost_ios: Count.optional(),
  max_recovery_time: Duration.optional(),
  freezes: z.record(DeviceRef, Count).optional().meta({ description: 'Freezes per device' }),
  pe_state: z.record(DeviceRef, PeState).optional().meta({ description: 'PE states at the end' }),
  steps: z.record(Ident, StepExpect).optional().meta({ description: 'Results of steps, by id' }),
});
export type Expect = z.output<typeof Expect>;
