/**
 * Steps: explicit operations at given virtual times, bypassing the guest
 * kernel and the drivers: a raw RTAS call from a guest, a raw VFIO ioctl
 * from a guest's VMM, a host debug knob. Each step may carry an `id` so
 * `expect.steps` can assert on its return values.
 *
 * ALIGN: the RTAS / VFIO names follow eeh-facts.md sections 2-3 and
 * src/uapi; the machine resolves names to tokens and request numbers.
 */
import { z } from 'zod';
import { RTAS_EEH_CALLS, RTAS_ERRINJCT_CALLS } from '../../uapi/rtas.js';
import { VFIO_IOCTLS } from '../../uapi/vfio.js';
import { Count, DeviceRef, Duration, Ident, U32 } from './common.js';

/** RTAS calls a step may name (src/uapi/rtas.ts: the EEH and errinjct calls). */
export const RTAS_CALLS = [...RTAS_EEH_CALLS, ...RTAS_ERRINJCT_CALLS].map((c) => c.name) as [
  string,
  ...string[],
];

/**
 * An RTAS argument word: a number, or a symbolic address of a passed-through
 * device as the guest sees it: `config_addr(nic0)`, `buid_hi(nic0)`,
 * `buid_lo(nic0)`, `pe_addr(nic0)`.
 */
export const RTAS_ARG_RE = /^(config_addr|buid_hi|buid_lo|pe_addr)\(([\w.:-]+)\)$/;
export const RtasArg = z.union(
  [
    U32,
    z.string().regex(RTAS_ARG_RE, {
      error: (iss) =>
        `'${String(iss.input)}' is not an RTAS argument (a number or config_addr(dev), buid_hi(dev), buid_lo(dev), pe_addr(dev))`,
    }),
  ],
  { error: 'expected an RTAS argument word (number or e.g. buid_hi(nic0))' },
);

export const RtasStep = z.strictObject({
  kind: z.literal('rtas'),
  id: Ident.optional(),
  at: Duration,
  guest: Ident,
  call: z.union([z.enum(RTAS_CALLS), U32], {
    error: (iss) =>
      `unknown RTAS call ${JSON.stringify(iss.input)} (known: ${RTAS_CALLS.join(', ')}, or a token number)`,
  }),
  args: z.array(RtasArg).max(16).default([]),
  nargs: Count.max(16).optional().meta({
    description: 'Declared nargs (default: the number of args); set it to test the checks',
  }),
  nret: Count.max(16),
});

/**
 * VFIO ioctls a step may name: every real one of src/uapi/vfio.ts, plus the
 * experimental VFIO_DEVICE_SET_ADDR_MAPPING (never merged upstream).
 */
export const VFIO_REQUESTS = [
  ...new Set([
    ...Object.values(VFIO_IOCTLS).flatMap((fd) => Object.keys(fd)),
    'VFIO_DEVICE_SET_ADDR_MAPPING',
  ]),
] as [string, ...string[]];

/** The ten VFIO_EEH_PE_OP ops, in their numeric order (src/uapi/vfio.ts). */
export const VFIO_EEH_PE_OPS = [
  'VFIO_EEH_PE_DISABLE',
  'VFIO_EEH_PE_ENABLE',
  'VFIO_EEH_PE_UNFREEZE_IO',
  'VFIO_EEH_PE_UNFREEZE_DMA',
  'VFIO_EEH_PE_GET_STATE',
  'VFIO_EEH_PE_RESET_DEACTIVATE',
  'VFIO_EEH_PE_RESET_HOT',
  'VFIO_EEH_PE_RESET_FUNDAMENTAL',
  'VFIO_EEH_PE_CONFIGURE',
  'VFIO_EEH_PE_INJECT_ERR',
] as const;

export const VfioStep = z
  .strictObject({
    kind: z.literal('vfio'),
    id: Ident.optional(),
    at: Duration,
    guest: Ident.meta({ description: 'The guest whose VMM issues the ioctl (on its fds)' }),
    fd: z.enum(['container', 'group', 'device']),
    device: DeviceRef.optional().meta({ description: 'Selects the group / device fd' }),
    request: z.union([z.enum(VFIO_REQUESTS), U32], {
      error: (iss) =>
        `unknown VFIO request ${JSON.stringify(iss.input)} (known: ${VFIO_REQUESTS.join(', ')}, or a number)`,
    }),
    op: z
      .union([z.enum(VFIO_EEH_PE_OPS), U32])
      .optional()
      .meta({
        description: 'For VFIO_EEH_PE_OP: the op',
      }),
    argsz: U32.optional().meta({ description: 'Override argsz (to test the checks)' }),
    flags: U32.optional(),
    data: z
      .string()
      .regex(/^([0-9a-fA-F]{2})*$/, { error: 'data must be hex bytes, e.g. 0c000000' })
      .optional()
      .meta({ description: 'Raw argument buffer (hex); replaces the encoded struct' }),
  })
  .superRefine((s, ctx) => {
    if (s.fd !== 'container' && s.device === undefined) {
      ctx.addIssue({ code: 'custom', path: ['device'], message: `a ${s.fd} fd step needs device` });
    }
  });

export const HOST_KNOBS = {
  eeh_dev_break: 'freeze the PE of a device through a bad MMIO (debugfs)',
  eeh_dev_check: 'run check_failure on a device (debugfs)',
  eeh_max_freezes: 'set the freeze limit (value)',
  eeh_pe_state: 'read the PE state of a device (sysfs)',
} as const;
export type HostKnob = keyof typeof HOST_KNOBS;
const HOST_KNOB_NAMES = Object.keys(HOST_KNOBS) as [HostKnob, ...HostKnob[]];

export const KnobStep = z
  .strictObject({
    kind: z.literal('knob'),
    id: Ident.optional(),
    at: Duration,
    knob: z.enum(HOST_KNOB_NAMES, {
      error: (iss) =>
        `unknown host knob '${String(iss.input)}' (known: ${HOST_KNOB_NAMES.join(', ')})`,
    }),
    device: DeviceRef.optional(),
    value: Count.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.knob === 'eeh_max_freezes' ? s.value === undefined : s.device === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [s.knob === 'eeh_max_freezes' ? 'value' : 'device'],
        message: `${s.knob} needs ${s.knob === 'eeh_max_freezes' ? 'value' : 'device'}`,
      });
    }
  });

export const Step = z.discriminatedUnion('kind', [RtasStep, VfioStep, KnobStep], {
  error: (iss) =>
    iss.code === 'invalid_union' &&
    (iss.input as { kind?: unknown } | undefined)?.kind !== undefined
      ? `unknown step kind ${JSON.stringify((iss.input as { kind: unknown }).kind)} (known: rtas, vfio, knob)`
      : 'a step needs kind: rtas, vfio or knob',
});
export type Step = z.output<typeof Step>;
