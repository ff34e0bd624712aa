/**
 * Linux ioctl request-number encoding (`_IOC`), in its two flavours.
 *
 * cf. include/uapi/asm-generic/ioctl.h (x86, arm64, riscv, ...) and
 * arch/powerpc/include/uapi/asm/ioctl.h, which overrides the direction field:
 *
 * | encoding | _IOC_NONE | _IOC_WRITE | _IOC_READ | size bits | dir bits | dir shift |
 * |----------|-----------|------------|-----------|-----------|----------|-----------|
 * | generic  | 0         | 1          | 2         | 14        | 2        | 30        |
 * | powerpc  | 1         | 4          | 2         | 13        | 3        | 29        |
 *
 * In both, nr is bits 0..7 and type bits 8..15; size starts at bit 16.
 * So `_IO(';', 121)` (VFIO_EEH_PE_OP) is 0x00003B79 on x86 but 0x20003B79 on
 * POWER, because powerpc's `_IOC_NONE` is a bit, not zero.
 *
 * Which encoding the model uses: **the generic one** (`MODEL_IOC`). Every
 * request number exported from `src/uapi/` (VFIO_*, KVM_*) and dispatched by
 * the modelled kernel is the generic value, so that the ABI conformance test
 * (test/uapi/abi.test.ts) can compare it with the real header compiled on
 * this x86-64 host. A real POWER host, which is what the model stands for,
 * sees the powerpc value: `toPowerpc()` converts for display, and the ABI test
 * checks those values too against the powerpc uapi headers.
 * // MODEL: request numbers use the generic (x86) _IOC encoding, not powerpc's.
 *
 * Request numbers are plain non-negative JS numbers (u32).
 */

/** Parameters of one `_IOC` encoding. */
export interface IocEncoding {
  readonly name: 'generic' | 'powerpc';
  readonly NONE: number;
  readonly WRITE: number;
  readonly READ: number;
  readonly SIZEBITS: number;
  readonly DIRBITS: number;
}

export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;

/** include/uapi/asm-generic/ioctl.h */
export const IOC_GENERIC: IocEncoding = Object.freeze({
  name: 'generic',
  NONE: 0,
  WRITE: 1,
  READ: 2,
  SIZEBITS: 14,
  DIRBITS: 2,
});

/** arch/powerpc/include/uapi/asm/ioctl.h */
export const IOC_POWERPC: IocEncoding = Object.freeze({
  name: 'powerpc',
  NONE: 1,
  WRITE: 4,
  READ: 2,
  SIZEBITS: 13,
  DIRBITS: 3,
});

/** The encoding of every request number in the model (see the file comment). */
export const MODEL_IOC: IocEncoding = IOC_GENERIC;

/** Direction of an ioctl, independent of how an encoding spells it. */
export type IocDir = 'none' | 'read' | 'write' | 'readwrite';

/** An ioctl request taken apart. */
export interface IocFields {
  readonly dir: IocDir;
  readonly type: number;
  readonly nr: number;
  readonly size: number;
}

/** `';'` or `0x3b`: the ioctl "type" (magic) byte. */
export type IocType = number | string;

function typeByte(type: IocType): number {
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  if (typeof type === 'string' && type.length !== 1) {
    throw new RangeError(`ioctl type must be one character: ${JSON.stringify(type)}`);
  }
  if (!Number.isInteger(t) || t < 0 || t > 0xff)
    throw new RangeError(`ioctl type out of range: ${t}`);
  return t;
}

function dirBits(enc: IocEncoding, dir: IocDir): number {
  switch (dir) {
    case 'none':
      return enc.NONE;
    case 'read':
      return enc.READ;
    case 'write':
      return enc.WRITE;
    case 'readwrite':
      return enc.READ | enc.WRITE;
  }
}

/** `_IOC(dir, type, nr, size)` in the given encoding. */
export function ioc(
  enc: IocEncoding,
  dir: IocDir,
  type: IocType,
  nr: number,
  size: number,
): number {
  const t = typeByte(type);
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xff)
    throw new RangeError(`ioctl nr out of range: ${nr}`);
  const maxSize = 2 ** enc.SIZEBITS - 1;
  if (!Number.isInteger(size) || size < 0 || size > maxSize) {
    throw new RangeError(`ioctl size out of range for ${enc.name}: ${size}`);
  }
  const dirShift = _IOC_SIZESHIFT + enc.SIZEBITS;
  return (
    ((dirBits(enc, dir) << dirShift) |
      (size << _IOC_SIZESHIFT) |
      (t << _IOC_TYPESHIFT) |
      (nr << _IOC_NRSHIFT)) >>>
    0
  );
}

/**
 * Takes a request apart; `undefined` when the direction bits are not a valid
 * value of this encoding (e.g. 0 on powerpc).
 */
export function decodeIoc(enc: IocEncoding, request: number): IocFields | undefined {
  if (!Number.isInteger(request) || request < 0 || request > 0xffff_ffff) return undefined;
  const dirShift = _IOC_SIZESHIFT + enc.SIZEBITS;
  const d = Math.floor(request / 2 ** dirShift) & (2 ** enc.DIRBITS - 1);
  const size = Math.floor(request / 2 ** _IOC_SIZESHIFT) & (2 ** enc.SIZEBITS - 1);
  const type = (request >>> _IOC_TYPESHIFT) & 0xff;
  const nr = request & 0xff;
  let dir: IocDir;
  if (d === enc.NONE) dir = 'none';
  else if (d === enc.READ) dir = 'read';
  else if (d === enc.WRITE) dir = 'write';
  else if (d === (enc.READ | enc.WRITE)) dir = 'readwrite';
  else return undefined;
  return { dir, type, nr, size };
}

/** Re-encodes a request number from one encoding into another. */
export function reencode(from: IocEncoding, to: IocEncoding, request: number): number {
  const f = decodeIoc(from, request);
  if (!f) throw new RangeError(`not a valid ${from.name} ioctl request: 0x${request.toString(16)}`);
  return ioc(to, f.dir, f.type, f.nr, f.size);
}

/** The number a POWER host uses for a request of the model (generic) encoding. */
export const toPowerpc = (request: number): number => reencode(MODEL_IOC, IOC_POWERPC, request);

/** The `_IO*` macro family for one encoding. */
export interface IocMacros {
  readonly encoding: IocEncoding;
  _IO(type: IocType, nr: number): number;
  _IOR(type: IocType, nr: number, size: number): number;
  _IOW(type: IocType, nr: number, size: number): number;
  _IOWR(type: IocType, nr: number, size: number): number;
  _IOC_DIR(request: number): IocDir | undefined;
  _IOC_TYPE(request: number): number;
  _IOC_NR(request: number): number;
  _IOC_SIZE(request: number): number;
}

/**
 * The macros for `enc`. As in C, the size argument is `sizeof(struct ...)`;
 * pass a codec's `.size`.
 */
export function iocMacros(enc: IocEncoding): IocMacros {
  return Object.freeze({
    encoding: enc,
    _IO: (type: IocType, nr: number) => ioc(enc, 'none', type, nr, 0),
    _IOR: (type: IocType, nr: number, size: number) => ioc(enc, 'read', type, nr, size),
    _IOW: (type: IocType, nr: number, size: number) => ioc(enc, 'write', type, nr, size),
    _IOWR: (type: IocType, nr: number, size: number) => ioc(enc, 'readwrite', type, nr, size),
    _IOC_DIR: (request: number) => decodeIoc(enc, request)?.dir,
    _IOC_TYPE: (request: number) => (request >>> _IOC_TYPESHIFT) & 0xff,
    _IOC_NR: (request: number) => request & 0xff,
    _IOC_SIZE: (request: number) =>
      Math.floor(request / 2 ** _IOC_SIZESHIFT) & (2 ** enc.SIZEBITS - 1),
  });
}

/** Generic (x86 etc.) macros. */
export const generic: IocMacros = iocMacros(IOC_GENERIC);
/** powerpc macros. */
export const powerpc: IocMacros = iocMacros(IOC_POWERPC);

/** The model's macros (generic encoding). */
export const { _IO, _IOR, _IOW, _IOWR } = generic;

/** `0x3b79` style, as the kernel prints request numbers. */
export const formatRequest = (request: number): string =>
  `0x${request.toString(16).toUpperCase().padStart(4, '0')}`;
