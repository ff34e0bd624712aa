/**
 * The healthy-MMIO fast path: a one-entry, machine-wide translation cache
 * for CPU loads, like a TLB entry for a direct-mapped BAR. It holds the
 * registers of the BAR last read through a PHB when that BAR is direct
 * mapped (its registers are plain storage the device keeps up to date, see
 * PciFunction.directRead). A PHB fills it only for a route whose PE runs
 * while no error injection is armed, and empties it on every change of PE
 * or PHB state, trap or decoding - so the freeze rule still holds: a frozen
 * PE's registers are never in here. Everything else (stores, sub-word or
 * unaligned loads, registers with side effects) takes the PHB's path.
 *
 * Performance notes (V8): fields are `declare`d and set in the constructor
 * (a class-field declaration defines them as undefined first and V8 then
 * re-checks their type on every load), and the path reads one typed array:
 * each extra mutable typed array on the path costs about half a nanosecond.
 */
const NO_WORDS = new Uint32Array(0);

export class MmioFastPath {
  /** Bus address of the direct-mapped registers. */
  declare base: number;
  /** Bytes from `base` that are direct mapped (0: empty). */
  declare size: number;
  /** The registers, little-endian 32-bit words. */
  declare words: Uint32Array;
  /** Who filled it (a PHB); only the owner empties it. */
  declare owner: object | undefined;

  constructor() {
    this.base = 0;
    this.size = 0;
    this.words = NO_WORDS;
    this.owner = undefined;
  }

  set(owner: object, base: number, size: number, words: Uint32Array): void {
    this.owner = owner;
    this.base = base;
    this.size = Math.min(size, words.length * 4);
    this.words = words;
  }

  /** Empties the entry if `owner` filled it. */
  clear(owner: object): void {
    if (this.owner !== owner) return;
    this.owner = undefined;
    this.size = 0;
    this.words = NO_WORDS;
  }
}

/*
 * The lookup itself is written out where it is used (Hardware.mmioRead and
 * Phb.mmioRead):
 *
 *   const f = this.fast;
 *   const u = (addr - f.base) >>> 0;
 *   if (size === 4 && u < f.size && addr < 0x1_0000_0000) return f.words[u >>> 2];
 *
 * The unsigned offset folds `addr >= base` into `u < size`; it is exact for
 * any address below 4 GiB because direct routes lie in PHB windows, which
 * are below 4 GiB (topology.ts), and the second test keeps higher addresses
 * from wrapping onto a register. There is no alignment test: MMIO must be
 * naturally aligned (see Phb.mmioRead). A shared helper function was not
 * inlined reliably by V8 (2.5x slower), nor is an imported constant folded
 * (hence the literal); this is the line bench/mmio_read.ts measures.
 */
