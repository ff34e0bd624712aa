/**
 * Shared field types of the scenario format: durations, identifiers,
 * device references, BDFs and BUIDs.
 */
import { z } from 'zod';
import { parseDuration } from '../../sim/time.js';

const DURATION_RE = /^\s*\d+(?:\.\d+)?\s*(?:ns|us|µs|ms|s)?\s*$/;
const DURATION_HINT = 'durations are e.g. 250ms, 1.5us, 2s or an integer number of ns';

/**
 * A virtual duration or time: `250ms`, `1.5us`, `2s`, `100ns` or an integer
 * number of nanoseconds. Parsed to integer nanoseconds.
 */
export const Duration = z
  .union(
    [
      z.string().regex(DURATION_RE, {
        error: (iss) =>
          typeof iss.input === 'string' && iss.input.trim().startsWith('-')
            ? `negative time '${iss.input}' (${DURATION_HINT})`
            : `'${String(iss.input)}' is not a duration (${DURATION_HINT})`,
      }),
      z
        .number()
        .int({
          error: (iss) => `${String(iss.input)} is not an integer number of ns (${DURATION_HINT})`,
        })
        .nonnegative({ error: (iss) => `negative time ${String(iss.input)} (${DURATION_HINT})` }),
    ],
    { error: `expected a duration (${DURATION_HINT})` },
  )
  .transform((v, ctx): number => {
    const ns = parseDuration(v);
    if (ns === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `'${String(v)}' is not a duration (${DURATION_HINT})`,
      });
      return z.NEVER;
    }
    return ns;
  })
  .meta({ description: `A virtual duration: ${DURATION_HINT}` });

/** Names of devices, guests, steps: letters, digits, `_` and `-`. */
export const Ident = z.string().regex(/^[A-Za-z_][\w-]*$/, {
  error: (iss) =>
    `'${String(iss.input)}' is not a name (letters, digits, _ and -, not starting with a digit)`,
});

/** Bus/device/function within a PHB, `BB:DD.F` (hex). */
export const Bdf = z.string().regex(/^[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]$/, {
  error: (iss) =>
    `'${String(iss.input)}' is not a BDF (BB:DD.F in hex, device 00-1f, function 0-7)`,
});

const DEVICE_REF_RE = /^(?:[A-Za-z_][\w-]*|[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7])$/;

/**
 * A host device: its name (`nic0`) or its full address `DDDD:BB:DD.F`, where
 * the PCI domain DDDD is the PHB id.
 */
export const DeviceRef = z.string().regex(DEVICE_REF_RE, {
  error: (iss) => `'${String(iss.input)}' is not a device (a device name, or DDDD:BB:DD.F)`,
});

/**
 * A BUID (64-bit PHB identifier) as a hex string `0x...` or an integer.
 * Normalised to a lower-case hex string (BUIDs exceed 2^53, so they are
 * not carried as JS numbers).
 */
export const Buid = z
  .union(
    [
      z.string().regex(/^0x[0-9a-fA-F]{1,16}$/, {
        error: (iss) => `'${String(iss.input)}' is not a BUID (hex, e.g. 0x800000020000000)`,
      }),
      z.number().int().nonnegative(),
      z.bigint().nonnegative().max(0xffff_ffff_ffff_ffffn),
    ],
    { error: 'expected a BUID (hex string like 0x800000020000000, or an integer)' },
  )
  .transform((v) => `0x${BigInt(v).toString(16)}`);

/** An unsigned 32-bit integer (seeds, RTAS words). */
export const U32 = z
  .number()
  .int({ error: (iss) => `${String(iss.input)} is not an integer` })
  .min(0, { error: (iss) => `${String(iss.input)} is negative (expected 0..2^32-1)` })
  .max(0xffff_ffff, { error: (iss) => `${String(iss.input)} does not fit in 32 bits` });

/** A count: an integer >= 0. */
export const Count = z
  .number()
  .int({ error: (iss) => `${String(iss.input)} is not an integer` })
  .nonnegative({ error: (iss) => `${String(iss.input)} is negative` });
