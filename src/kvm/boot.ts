/**
 * The boot hand-off between a VMM and its guest kernel: where the device
 * tree lives in guest memory and how it is encoded.
 *
 * On real sPAPR, QEMU writes a flattened device tree blob into guest RAM and
 * enters the guest (SLOF, then Linux) with r3 pointing at it
 * (hw/ppc/spapr.c spapr_cpu_set_entry_state()).
 *
 * MODEL: the blob is JSON, not FDT: a 12-byte header (magic "EEHT", version,
 * length, all big-endian) followed by UTF-8 JSON where 64-bit values
 * (BUIDs) are written as {"$u64": "0x..."}. It always sits at
 * BOOT_FDT_GPA (r3 at entry is fixed), and guest RAM below
 * GUEST_ALLOC_BASE is reserved for it (the "firmware" area).
 */
import { type Gpa, gpa } from '../uapi/ids.js';

export const BOOT_FDT_GPA: Gpa = gpa(0x1_0000);
/** First guest-physical byte the guest kernel's page allocator may hand out. */
export const GUEST_ALLOC_BASE: Gpa = gpa(0x10_0000);
/** Largest blob that fits between BOOT_FDT_GPA and GUEST_ALLOC_BASE. */
export const BOOT_FDT_MAX = GUEST_ALLOC_BASE - BOOT_FDT_GPA;

const MAGIC = 0x4545_4854; // "EEHT"
const VERSION = 1;
const HEADER = 12;

export type BootBlobResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: string };

/** Encodes a device tree (any JSON-able value; bigints allowed). Throws RangeError if too big. */
export function encodeBootBlob(tree: unknown): Uint8Array {
  const json = JSON.stringify(tree, (_k, v: unknown) =>
    typeof v === 'bigint' ? { $u64: `0x${v.toString(16)}` } : v,
  );
  const body = new TextEncoder().encode(json);
  if (HEADER + body.length > BOOT_FDT_MAX) {
    throw new RangeError(`device tree of ${body.length} bytes does not fit the boot area`);
  }
  const out = new Uint8Array(HEADER + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC);
  v.setUint32(4, VERSION);
  v.setUint32(8, body.length);
  out.set(body, HEADER);
  return out;
}

/** Length of the blob whose header is `header` (12 bytes), or undefined if it is not one. */
export function bootBlobLength(header: Uint8Array): number | undefined {
  if (header.length < HEADER) return undefined;
  const v = new DataView(header.buffer, header.byteOffset, HEADER);
  if (v.getUint32(0) !== MAGIC || v.getUint32(4) !== VERSION) return undefined;
  const n = v.getUint32(8);
  return HEADER + n <= BOOT_FDT_MAX ? HEADER + n : undefined;
}

export const BOOT_BLOB_HEADER = HEADER;

/** Decodes a whole blob (header included). Never throws. */
export function decodeBootBlob(bytes: Uint8Array): BootBlobResult {
  const len = bootBlobLength(bytes);
  if (len === undefined) return { ok: false, error: 'no device tree blob' };
  if (bytes.length < len) return { ok: false, error: 'truncated device tree blob' };
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER, len));
    const value: unknown = JSON.parse(text, (_k, v: unknown) => {
      if (v !== null && typeof v === 'object' && '$u64' in v) {
        const s = (v as { $u64: unknown }).$u64;
        if (typeof s === 'string' && /^0x[0-9a-f]+$/.test(s)) return BigInt(s);
      }
      return v;
    });
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: `bad device tree blob: ${(e as Error).message}` };
  }
}
