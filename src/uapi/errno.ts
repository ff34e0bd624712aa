/** errno values (include/uapi/asm-generic/errno-base.h, errno.h), shared by the host and guest kernels; returned negated. */
export const EPERM = 1;
export const ENOENT = 2;
export const EIO = 5;
export const ENXIO = 6;
export const EBADF = 9;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ENOTTY = 25;
export const ERANGE = 34;
export const EOPNOTSUPP = 95;
export const ENOTRECOVERABLE = 131;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [EIO]: 'EIO',
  [ENXIO]: 'ENXIO',
  [EBADF]: 'EBADF',
  [ENOMEM]: 'ENOMEM',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV',
  [EINVAL]: 'EINVAL',
  [ENOSPC]: 'ENOSPC',
  [ENOTTY]: 'ENOTTY',
  [ERANGE]: 'ERANGE',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [ENOTRECOVERABLE]: 'ENOTRECOVERABLE',
};

/** `-22` -> `-EINVAL`; non-negative values print as numbers. */
export function formatRc(rc: number): string {
  if (rc >= 0) return String(rc);
  const n = NAMES[-rc];
  return n ? `-${n}` : String(rc);
}
