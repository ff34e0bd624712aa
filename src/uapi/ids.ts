/**
 * Branded identifiers, so that a guest address cannot be passed where a host
 * one is expected (the rust-vmm habit). Construct them only through the
 * functions below, which validate the range.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** PCI bus/device/function packed as in Linux: bus << 8 | dev << 3 | fn. */
export type Bdf = Brand<number, 'Bdf'>;
/** PE number inside one PHB (host side). */
export type PeNumber = Brand<number, 'PeNumber'>;
/** Host PHB id (OPAL phb_id). */
export type PhbId = Brand<number, 'PhbId'>;
/** Guest-visible PHB identifier (PAPR BUID), 64-bit in the device tree. */
export type Buid = Brand<bigint, 'Buid'>;
/** Guest physical address. */
export type Gpa = Brand<number, 'Gpa'>;
/** Host physical address. */
export type Hpa = Brand<number, 'Hpa'>;
/** I/O virtual address as seen by a device (DMA), translated by the TCE IOMMU. */
export type Iova = Brand<number, 'Iova'>;
/** Logical I/O bus number: names a guest DMA window (TCE table) in PAPR. */
export type Liobn = Brand<number, 'Liobn'>;

function checkInt(name: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${name} out of range: ${v}`);
  }
}

export function bdf(bus: number, dev: number, fn: number): Bdf {
  checkInt('bus', bus, 0xff);
  checkInt('device', dev, 0x1f);
  checkInt('function', fn, 7);
  return ((bus << 8) | (dev << 3) | fn) as Bdf;
}
export const bdfBus = (b: Bdf): number => (b >> 8) & 0xff;
export const bdfDev = (b: Bdf): number => (b >> 3) & 0x1f;
export const bdfFn = (b: Bdf): number => b & 7;

/** `00:02.0` style, as lspci prints it. */
export function formatBdf(b: Bdf): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(bdfBus(b), 2)}:${h(bdfDev(b), 2)}.${bdfFn(b)}`;
}

/** Parses `bb:dd.f` (hex bus and device). */
export function parseBdf(text: string): Bdf | undefined {
  const m = /^([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(text.trim());
  if (!m) return undefined;
  const bus = Number.parseInt(m[1] as string, 16);
  const dev = Number.parseInt(m[2] as string, 16);
  if (dev > 0x1f) return undefined;
  return bdf(bus, dev, Number(m[3]));
}

export function peNumber(n: number): PeNumber {
  checkInt('PE number', n, 0xffff);
  return n as PeNumber;
}
export function phbId(n: number): PhbId {
  checkInt('PHB id', n, 0xffff);
  return n as PhbId;
}
export function buid(n: bigint): Buid {
  if (n < 0n || n > 0xffff_ffff_ffff_ffffn) throw new RangeError(`BUID out of range: ${n}`);
  return n as Buid;
}
function address<T>(name: string, max: number): (n: number) => T {
  return (n: number): T => {
    checkInt(name, n, max);
    return n as T;
  };
}
export const gpa = address<Gpa>('GPA', Number.MAX_SAFE_INTEGER);
export const hpa = address<Hpa>('HPA', Number.MAX_SAFE_INTEGER);
export const iova = address<Iova>('IOVA', Number.MAX_SAFE_INTEGER);
export const liobn = address<Liobn>('LIOBN', 0xffff_ffff);
