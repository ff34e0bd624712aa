/**
 * The kernel's user-access helpers (include/linux/uaccess.h) over the
 * model's ioctl argument: an `ArrayBuffer` is the user memory at the
 * pointer (its byteLength is how much of it is accessible), a `number` is an
 * integer argument - which, used as a pointer, faults.
 *
 * MODEL: a number passed where the kernel expects a pointer is an invalid
 * user address (-EFAULT); a real kernel would try to read that address.
 */
import type { IoctlArg } from '../host/process.js';
import type { Fields, Struct, StructInput, StructValue } from '../uapi/codec.js';
import { EFAULT, EINVAL } from '../uapi/errno.js';

/**
 * copy_from_user(&s, arg, length): the first `length` bytes of the struct
 * (fields beyond read as 0), or undefined when the user memory is too short
 * (-EFAULT).
 */
export function copyFromUser<Fs extends Fields>(
  arg: IoctlArg,
  st: Struct<Fs>,
  length: number = st.size,
): StructValue<Fs> | undefined {
  if (typeof arg === 'number') return undefined;
  const r = st.decode(arg, 0, length);
  return r.ok ? r.value : undefined;
}

/**
 * The opening every VFIO ioctl with an `argsz` header repeats
 * (drivers/vfio/vfio_iommu_spapr_tce.c, drivers/vfio/pci/vfio_pci_core.c, ...):
 *
 *     if (copy_from_user(&s, (void __user *)arg, minsz)) return -EFAULT;
 *     if (s.argsz < minsz) return -EINVAL;
 *
 * The struct (its first `minsz` bytes), or that -errno.
 */
export function copyArgszFromUser<Fs extends Fields & { readonly argsz: { readonly type: 'u32' } }>(
  arg: IoctlArg,
  st: Struct<Fs>,
  minsz: number,
): StructValue<Fs> | number {
  const s = copyFromUser(arg, st, minsz);
  if (!s) return -EFAULT;
  if ((s.argsz as number) < minsz) return -EINVAL;
  return s;
}

/**
 * copy_to_user(arg, &s, length): writes the first `length` bytes of the
 * encoded struct. false (-EFAULT) when the user memory is shorter; nothing
 * is written then.
 */
export function copyToUser<Fs extends Fields>(
  arg: IoctlArg,
  st: Struct<Fs>,
  value: StructInput<Fs>,
  length: number = st.size,
): boolean {
  if (typeof arg === 'number' || arg.byteLength < length) return false;
  const bytes = new Uint8Array(st.encode(value), 0, length);
  new Uint8Array(arg, 0, length).set(bytes);
  return true;
}

/** get_user(int, arg): the s32 at the pointer, or undefined (-EFAULT). */
export function getUserS32(arg: IoctlArg): number | undefined {
  if (typeof arg === 'number' || arg.byteLength < 4) return undefined;
  return new DataView(arg).getInt32(0, true);
}

/**
 * strndup_user(arg, n): the NUL-terminated string at the pointer (latin1).
 * -EFAULT when the memory ends before a NUL, -EINVAL when no NUL is found
 * within `n` bytes (as lib/string_helpers / mm/util.c).
 */
export function strndupUser(arg: IoctlArg, n: number): string | 'EFAULT' | 'EINVAL' {
  if (typeof arg === 'number') return 'EFAULT';
  const bytes = new Uint8Array(arg);
  const limit = Math.min(bytes.length, n);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] === 0) {
      let s = '';
      for (let j = 0; j < i; j++) s += String.fromCharCode(bytes[j] as number);
      return s;
    }
  }
  return bytes.length >= n ? 'EINVAL' : 'EFAULT';
}
