/**
 * Sorted, non-overlapping address ranges with binary-search lookup: the
 * PHB's MMIO segment map (address -> PE) and its decode map (address ->
 * function BAR) are both one of these.
 */
export interface Range {
  readonly base: number;
  readonly size: number;
}

export class RangeTable<T extends Range> {
  private items: T[] = [];

  get length(): number {
    return this.items.length;
  }

  all(): readonly T[] {
    return this.items;
  }

  /** Replaces the contents; later ranges overlapping an earlier one are dropped. */
  reset(items: readonly T[]): void {
    const sorted = [...items].sort((a, b) => a.base - b.base);
    this.items = [];
    for (const r of sorted) {
      const last = this.items[this.items.length - 1];
      if (last && r.base < last.base + last.size) continue;
      this.items.push(r);
    }
  }

  /** Adds a range; returns false (and adds nothing) if it overlaps one already there. */
  add(r: T): boolean {
    if (this.items.some((x) => r.base < x.base + x.size && x.base < r.base + r.size)) return false;
    this.reset([...this.items, r]);
    return true;
  }

  /** The range containing all of [addr, addr + size), if any. */
  find(addr: number, size = 1): T | undefined {
    const a = this.items;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = a[mid] as T;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.size) lo = mid + 1;
      else return addr + size <= r.base + r.size ? r : undefined;
    }
    return undefined;
  }
}
