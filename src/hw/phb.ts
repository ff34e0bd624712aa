/**
 * A PCI Host Bridge (IBM PHB3 / PHB4 as skiboot drives them): routes CPU
 * MMIO and config cycles down to functions, translates device DMA through
 * each PE's TCE table into host memory, and isolates errors per PE.
 *
 * Freeze semantics (cf. shared/reference/eeh-facts.md sections 1 and 7):
 * while a PE is MMIO-frozen its MMIO and config loads return all 1s of the
 * access size and its MMIO stores are dropped (counted; config writes still
 * reach the device, see configWrite); while it is DMA-frozen
 * its DMA is refused and never touches memory. MMIO and DMA freeze are
 * separate bits (PESTA / PESTB). A hardware-detected error (TCE miss, TCE
 * permission, DMA outside the window, MMIO nobody claims, an injected
 * error) is logged, sets the PE's error-pending bit and freezes MMIO+DMA of
 * the PE and every PE below it (PELT-V). A fenced PHB stops everything and
 * reports every PE as MMIO+DMA frozen.
 *
 * MODEL: CPU physical MMIO address = PCI bus address (real PHBs translate a
 * high CPU window to 32-bit PCI space). Devices sit on the PHB's root bus
 * (bus 0); real PHBs have a root port at 00:00.0 with devices from bus 1.
 * Config cycles are routed by bridge bus-number registers, but a function's
 * requester ID stays the BDF the topology gave it.
 */
import type { Ns } from '../sim/time.js';
import { type Bdf, formatBdf, type Hpa, type PhbId } from '../uapi/ids.js';
import type { DiagRecord, PhbDiagData } from '../uapi/opal.js';
import { type AccessSize, ALL_ONES, type ResetKind } from './config_space.js';
import { type HwContext, PciBridge, type PciFunction } from './device.js';
import { hex, type InjectionTrap, trapMatches } from './error_injection.js';
import type { HostMemory } from './memory.js';
import { MmioFastPath } from './mmio_fast_path.js';
import { Pe, type PeKind } from './pe.js';
import { PHB_MODELS, type PhbModel, type PhbModelInfo } from './phb_models.js';
import { RangeTable } from './range_table.js';
import { type DmaDir, TceTable } from './tce.js';
import './trace_events.js';

export interface MmioWindow {
  readonly base: number;
  readonly size: number;
}

export interface PhbErrorRecord extends DiagRecord {
  readonly phb: number;
  /** Reported as a PCIe AER message (error reporting `aer`) instead of freezing the PE. */
  readonly aer?: true;
}

/**
 * How a PHB reports the errors it detects: `eeh` (IBM PHB3/4, the default)
 * freezes the PE's domain, sets its PEEV bit and raises the PHB error
 * interrupt; `aer` is the x86-like baseline (design `aer`).
 * MODEL: under `aer` there is no PE isolation. A detected error is logged
 * and reported as a PCIe AER message to the host's AER handler (the
 * record's `aer` flag; cf. drivers/pci/pcie/aer.c); no PE freezes and no
 * PEEV bit is set, so the device's later MMIO and DMA go through and
 * whatever it sends (corrupted or poisoned data) reaches memory. The access
 * that failed completes as under `eeh` (a DMA without a translation is not
 * performed, a failed load returns all 1s): that is the answer of the
 * translation / the completer, not isolation.
 */
export type PhbErrorReporting = 'eeh' | 'aer';

/** An error as a detector reports it (the log adds seq, time, PE). */
export type DetectedError = Omit<DiagRecord, 'seq' | 't' | 'pe'>;

/**
 * A decoded BAR: MMIO in [base, base + size) goes to `fn`'s BAR `bar`, PE
 * `pe`.
 */
interface Route {
  readonly base: number;
  readonly size: number;
  readonly pe: Pe;
  readonly fn: PciFunction;
  readonly bar: number;
  /** Direct-mapped registers (PciFunction.directRead) and how many bytes of them. */
  readonly words: Uint32Array | undefined;
  readonly direct: number;
}

/** A slice of the MMIO window mapped to a PE (M32 segment / M64 BAR). */
export interface MmioSegment {
  readonly base: number;
  readonly size: number;
  readonly pe: Pe;
}

/** Error records kept for diag data. */
const LOG_KEEP = 64;

export class Phb {
  declare readonly info: PhbModelInfo;
  /** Functions on the root bus (bus 0). */
  readonly rootFunctions: PciFunction[] = [];
  /** The PE unassigned requester IDs map to. */
  declare readonly reserved: Pe;
  fenced = false;
  dead = false;
  /** Complete (PHB) reset asserted. */
  inReset = false;
  /** See PhbErrorReporting (set by the machine from the design's host side). */
  errorReporting: PhbErrorReporting = 'eeh';
  totalErrors = 0;
  readonly stats = { unclaimedLoads: 0, unclaimedStores: 0 };

  declare private readonly peTable: Pe[];
  /** RID -> PE number (the RTT). */
  declare private readonly rtt: Uint16Array;
  private readonly functions: PciFunction[] = [];
  private readonly parents = new Map<PciFunction, PciBridge>();
  private readonly segments = new RangeTable<MmioSegment>();
  private readonly routes = new RangeTable<Route>();
  /** Last route hit by an MMIO (the fast path). */
  /** The last route used (size 0: none). */
  declare private hit: Route;
  declare private readonly noRoute: Route;
  /** The direct-mapped fast path, shared by the PHBs of a machine and read by Hardware. */
  declare readonly fast: MmioFastPath;
  private dirty = true;
  private readonly cfgCache = new Map<number, PciFunction | undefined>();
  private trap: InjectionTrap | undefined;
  private readonly log: PhbErrorRecord[] = [];
  private errorSeq = 0;
  private readonly listeners: ((r: PhbErrorRecord) => void)[] = [];

  declare readonly ctx: HwContext;
  declare readonly id: PhbId;
  declare readonly model: PhbModel;
  declare readonly window: MmioWindow;
  declare readonly memory: HostMemory;

  // Fields set here are `declare`d: see the note in register_bank.ts.
  constructor(
    ctx: HwContext,
    id: PhbId,
    model: PhbModel,
    window: MmioWindow,
    memory: HostMemory,
    fast?: MmioFastPath,
  ) {
    this.ctx = ctx;
    this.id = id;
    this.model = model;
    this.window = window;
    this.memory = memory;
    this.info = PHB_MODELS[model];
    this.peTable = Array.from(
      { length: this.info.maxPe },
      (_, n) => new Pe(id, n, n === this.info.reservedPe ? 'reserved' : 'device'),
    );
    this.reserved = this.peTable[this.info.reservedPe] as Pe;
    this.rtt = new Uint16Array(0x1_0000).fill(this.info.reservedPe);
    this.fast = fast ?? new MmioFastPath();
    this.noRoute = {
      base: 0,
      size: 0,
      pe: this.reserved,
      fn: undefined as never,
      bar: -1,
      words: undefined,
      direct: 0,
    };
    this.hit = this.noRoute;
  }

  private get now(): Ns {
    return this.ctx.sim.now;
  }

  /** True when nothing passes the PHB (fenced, dead or in complete reset). */
  get stopped(): boolean {
    return this.fenced || this.dead || this.inReset;
  }

  // --- Building (topology, firmware/host configuration) ---

  /** Attaches a function on the root bus or below a bridge, and gives it its DMA port. */
  attach(fn: PciFunction, parent?: PciBridge): void {
    if (parent) {
      parent.attachBelow(fn);
      this.parents.set(fn, parent);
    } else {
      this.rootFunctions.push(fn);
    }
    this.functions.push(fn);
    fn.host = {
      dma: {
        read: (iova, dst) => this.dma(fn, 'read', iova, dst),
        write: (iova, src) => this.dma(fn, 'write', iova, src),
      },
      changed: () => this.invalidate(),
    };
    this.invalidate();
  }

  /** Every attached function, in attach order. */
  allFunctions(): readonly PciFunction[] {
    return this.functions;
  }

  /** The bridge directly above `fn` (undefined on the root bus). */
  parentOf(fn: PciFunction): PciBridge | undefined {
    return this.parents.get(fn);
  }

  /** PE number n, or undefined when n is out of range. */
  pe(n: number): Pe | undefined {
    return Number.isInteger(n) ? this.peTable[n] : undefined;
  }

  /** PEs that hold functions (the reserved PE excluded), by number. */
  pes(): Pe[] {
    return this.peTable.filter((p) => p.functions.length > 0 && p !== this.reserved);
  }

  /** Sets up PE n for use (OPAL_PCI_SET_PE); returns it. */
  configurePe(n: number, kind: Exclude<PeKind, 'reserved'>, dmaWindowSize: number): Pe {
    const pe = this.pe(n);
    if (!pe || pe === this.reserved) throw new RangeError(`PHB${this.id}: bad PE number ${n}`);
    (pe as { kind: PeKind }).kind = kind;
    pe.tce = new TceTable(dmaWindowSize);
    return pe;
  }

  /** Points requester ID `fn.bdf` at `pe` in the RTT. */
  assignRid(fn: PciFunction, pe: Pe): void {
    const old = this.peForRid(fn.bdf);
    const i = old.functions.indexOf(fn);
    if (i >= 0) old.functions.splice(i, 1);
    this.rtt[fn.bdf] = pe.number;
    pe.functions.push(fn);
    this.invalidate();
  }

  peForRid(rid: number): Pe {
    return this.peTable[this.rtt[rid] as number] as Pe;
  }

  peOf(fn: PciFunction): Pe {
    return this.peForRid(fn.bdf);
  }

  /**
   * Maps [base, base + size) of the MMIO window to a PE (what
   * OPAL_PCI_MAP_PE_MMIO_WINDOW does with M32 segments). Returns false if the
   * range leaves the window or overlaps a mapped one.
   */
  mapMmioSegment(base: number, size: number, pe: Pe): boolean {
    const w = this.window;
    if (size <= 0 || base < w.base || base + size > w.base + w.size) return false;
    const ok = this.segments.add({ base, size, pe });
    this.invalidate();
    return ok;
  }

  segmentsOf(pe: Pe): MmioSegment[] {
    return this.segments.all().filter((s) => s.pe === pe);
  }

  /** Routing caches are stale (config space, reset or PE map changed). */
  invalidate(): void {
    this.dirty = true;
    this.unhit();
    this.cfgCache.clear();
  }

  // --- CPU side: MMIO ---

  /*
   * Two caches in front of the route table: the shared direct-mapped fast
   * path (mmio_fast_path.ts) for plain register loads, and `hit`, the last
   * route used, for everything else. Both only ever hold a route whose PE
   * runs while no injection is armed; any state change empties them.
   */

  /**
   * An MMIO load of 1, 2 or 4 bytes at bus address `addr`, which must be a
   * multiple of `size`: a POWER core takes an Alignment interrupt on an
   * unaligned access to caching-inhibited storage, so an unaligned MMIO
   * never reaches a PHB (MODEL: a caller that tries gets a RangeError from
   * the slow path; the fast path does not check).
   */
  mmioRead(addr: number, size: AccessSize): number {
    // The fast path, written out (see mmio_fast_path.ts).
    const f = this.fast;
    const u = (addr - f.base) >>> 0;
    if (size === 4 && u < f.size && addr < 0x1_0000_0000) return f.words[u >>> 2] as number;
    const r = this.hit;
    const off = addr - r.base;
    if (off >= 0 && off + size <= r.size) return r.fn.mmioRead(r.bar, off, size);
    return this.mmioSlow(addr, size, false, 0);
  }

  /** An MMIO store (posted, naturally aligned): dropped when the PE is stopped. */
  mmioWrite(addr: number, size: AccessSize, value: number): void {
    const r = this.hit;
    const off = addr - r.base;
    if (off >= 0 && off + size <= r.size) r.fn.mmioWrite(r.bar, off, size, value);
    else this.mmioSlow(addr, size, true, value);
  }

  /** Forgets the cached routes (after any state change that may stop them). */
  private unhit(): void {
    this.hit = this.noRoute;
    this.fast.clear(this);
  }

  private mmioSlow(addr: number, size: AccessSize, store: boolean, value: number): number {
    if (addr % size !== 0) {
      throw new RangeError(`PHB${this.id}: unaligned ${size}-byte MMIO at ${hex(addr)}`);
    }
    if (this.dirty) this.rebuild();
    const ones = ALL_ONES[size];
    const r = this.routes.find(addr, size);
    const pe = r?.pe ?? this.segments.find(addr, size)?.pe;
    if (pe === undefined) {
      // MODEL: an address no PE owns completes with all 1s and no error (a
      // real PHB would report it against the reserved PE).
      if (store) this.stats.unclaimedStores++;
      else this.stats.unclaimedLoads++;
      this.ctx.sim.trace.emit('hw.mmio.unclaimed', { phb: this.id, addr: hex(addr), size, store });
      return ones;
    }
    if (pe.mmioStop) return this.stoppedAccess(pe, addr, size, store);
    const t = this.trap;
    if (t && trapMatches(t, 'mmio', store ? 'store' : 'load', pe, addr)) {
      this.fireTrap(t, addr, r?.fn.bdf);
      return this.stoppedAccess(pe, addr, size, store);
    }
    if (r === undefined) {
      // In a PE's segment but no BAR decodes it: the request ends in an
      // Unsupported Request and the PHB freezes the PE (how Linux's
      // eeh_dev_break freezes a PE, cf. arch/powerpc/kernel/eeh.c).
      this.detect(pe, {
        source: 'mmio',
        dir: store ? 'store' : 'load',
        kind: 'mmio_unclaimed',
        address: addr,
        bdf: undefined,
      });
      return this.stoppedAccess(pe, addr, size, store);
    }
    if (this.trap === undefined) {
      this.hit = r;
      if (r.words) this.fast.set(this, r.base, r.direct, r.words);
    }
    if (store) {
      r.fn.mmioWrite(r.bar, addr - r.base, size, value);
      return 0;
    }
    return r.fn.mmioRead(r.bar, addr - r.base, size);
  }

  private stoppedAccess(pe: Pe, addr: number, size: AccessSize, store: boolean): number {
    if (store) {
      pe.stats.droppedStores++;
      this.ctx.sim.trace.emit('hw.mmio.dropped_store', {
        phb: this.id,
        pe: pe.number,
        addr: hex(addr),
        size,
      });
      return 0;
    }
    pe.stats.allOnesLoads++;
    return ALL_ONES[size];
  }

  /** Rebuilds the decode map: every BAR that a function decodes and all bridges above forward. */
  private rebuild(): void {
    const routes: Route[] = [];
    const w = this.window;
    const visit = (fns: readonly PciFunction[], path: PciBridge[]): void => {
      for (const fn of fns) {
        if (fn.resetAsserted || !fn.memoryEnabled) continue;
        if (fn instanceof PciBridge) {
          visit(fn.below, [...path, fn]);
          continue;
        }
        for (const bar of fn.bars) {
          if (bar.kind === 'io') continue;
          const base = fn.barAddress(bar);
          if (base < w.base || base + bar.size > w.base + w.size) continue;
          if (!path.every((b) => b.forwardsMemory(base, bar.size))) continue;
          // MODEL: a BAR outside every mapped segment is attributed to its
          // function's PE (a real PHB would use the reserved PE and fail).
          const pe = this.segments.find(base, bar.size)?.pe ?? this.peOf(fn);
          const d = fn.directRead(bar.index);
          routes.push({
            base,
            size: bar.size,
            pe,
            fn,
            bar: bar.index,
            words: d?.words,
            direct: d?.size ?? 0,
          });
        }
      }
    };
    visit(this.rootFunctions, []);
    this.routes.reset(routes);
    this.dirty = false;
  }

  /** Where MMIO to `addr` goes now (tests, demo). */
  decode(addr: number): { fn: PciFunction; bar: number; offset: number; pe: Pe } | undefined {
    if (this.dirty) this.rebuild();
    const r = this.routes.find(addr);
    return r && { fn: r.fn, bar: r.bar, offset: addr - r.base, pe: r.pe };
  }

  // --- CPU side: config cycles ---

  /** The function a config cycle for `bdf` reaches (routed by bridge bus numbers). */
  findFunction(bdf: number): PciFunction | undefined {
    if (this.cfgCache.has(bdf)) return this.cfgCache.get(bdf);
    const bus = (bdf >> 8) & 0xff;
    const devfn = bdf & 0xff;
    let fns: readonly PciFunction[] = this.rootFunctions;
    let cur = 0;
    let found: PciFunction | undefined;
    for (let hops = 0; hops < 256; hops++) {
      if (bus === cur) {
        found = fns.find((f) => (f.bdf & 0xff) === devfn);
        break;
      }
      const bridge = fns.find((f): f is PciBridge => f instanceof PciBridge && f.routesBus(bus));
      if (!bridge) break;
      fns = bridge.below;
      cur = bridge.secondaryBus;
    }
    this.cfgCache.set(bdf, found);
    return found;
  }

  /** A config read cycle; all 1s when nobody answers or the PE is stopped. */
  configRead(bdf: number, offset: number, size: AccessSize): number {
    const fn = this.stopped ? undefined : this.findFunction(bdf);
    if (!fn) return ALL_ONES[size];
    const pe = this.peOf(fn);
    const t = this.trap;
    if (t && trapMatches(t, 'config', 'load', pe, bdf)) this.fireTrap(t, bdf, fn.bdf);
    if (pe.mmioStop) {
      pe.stats.allOnesLoads++;
      return ALL_ONES[size];
    }
    return fn.responding ? fn.configRead(offset, size) : ALL_ONES[size];
  }

  /**
   * A config write cycle; dropped when nobody answers (or the PHB is fenced).
   * MODEL: a config write reaches the device of a frozen PE. Linux restores
   * a reset PE's config space *before* thawing it (eeh_pe_reenable_devices()
   * in arch/powerpc/kernel/eeh.c: eeh_pe_restore_bars() then
   * eeh_unfreeze_pe()), which only works because the PHB's config cycles are
   * not subject to the PE's MMIO freeze; config *reads* of a frozen PE still
   * return all 1s (eeh-facts section 7), which is what EEH detection uses.
   */
  configWrite(bdf: number, offset: number, size: AccessSize, value: number): void {
    const fn = this.stopped ? undefined : this.findFunction(bdf);
    if (!fn) return;
    const pe = this.peOf(fn);
    const t = this.trap;
    if (t && trapMatches(t, 'config', 'store', pe, bdf)) this.fireTrap(t, bdf, fn.bdf);
    if (fn.responding) fn.configWrite(offset, size, value);
  }

  // --- Device side: DMA ---

  /**
   * A DMA by `fn`: `read` copies memory at `iova` into `buf`, `write` copies
   * `buf` to memory. The whole transfer is checked before any byte moves, so
   * a blocked DMA never touches memory (MODEL: real TLPs are checked one by
   * one and earlier ones may already have landed). MODEL: the bus-master
   * enable of bridges on the way up is not checked (the device checks its own).
   */
  dma(fn: PciFunction, dir: DmaDir, iova: number, buf: Uint8Array): boolean {
    const pe = this.peOf(fn);
    if (this.stopped) return this.blockDma(pe, fn, dir, iova, buf.length, 'phb_stopped');
    if (pe === this.reserved) {
      this.logError({ source: 'dma', dir, kind: 'rid_unmapped', address: iova, bdf: fn.bdf }, pe);
      return this.blockDma(pe, fn, dir, iova, buf.length, 'rid_unmapped');
    }
    if (pe.dmaFrozen) return this.blockDma(pe, fn, dir, iova, buf.length, 'frozen');
    if (pe.reset) return this.blockDma(pe, fn, dir, iova, buf.length, 'reset');
    const t = this.trap;
    if (t && trapMatches(t, 'dma', dir, pe, iova)) {
      this.fireTrap(t, iova, fn.bdf);
      return this.blockDma(pe, fn, dir, iova, buf.length, t.kind);
    }
    const tr = pe.tce
      ? pe.tce.translate(iova, buf.length, dir)
      : ({ ok: false, fault: 'dma_window', iova } as const);
    if (!tr.ok) {
      this.detect(pe, { source: 'dma', dir, kind: tr.fault, address: tr.iova, bdf: fn.bdf });
      return this.blockDma(pe, fn, dir, iova, buf.length, tr.fault);
    }
    let pos = 0;
    for (const [a, n] of tr.chunks) {
      const part = buf.subarray(pos, pos + n);
      if (dir === 'read') this.memory.read(a as Hpa, part);
      else this.memory.write(a as Hpa, part);
      pos += n;
    }
    return true;
  }

  private blockDma(
    pe: Pe,
    fn: PciFunction,
    dir: DmaDir,
    iova: number,
    len: number,
    reason: string,
  ): false {
    pe.stats.blockedDma++;
    this.ctx.sim.trace.emit('hw.dma.blocked', {
      phb: this.id,
      pe: pe.number,
      bdf: formatBdf(fn.bdf),
      dir,
      iova: hex(iova),
      len,
      reason,
    });
    return false;
  }

  // --- Errors and freezing ---

  /**
   * A hardware-detected error: log it, flag it pending (PEEV), freeze the
   * PE's domain. MODEL: only the PE that saw the error gets its PEEV bit; the
   * PEs below it are frozen through PELT-V without one. Under `aer`
   * reporting: only logged, as an AER message (PhbErrorReporting).
   */
  detect(pe: Pe, e: DetectedError): PhbErrorRecord {
    if (this.errorReporting === 'aer') return this.logError(e, pe, true);
    const rec = this.logError(e, pe);
    pe.errorPending = true;
    for (const p of pe.domain()) this.setFrozen(p, true, true, rec.kind, rec.address, pe, rec);
    return rec;
  }

  /** Freezes one PE as software asks (OPAL_PCI_EEH_FREEZE_SET): no error, no PELT-V. */
  freezeSet(pe: Pe, mmio: boolean, dma: boolean): void {
    this.setFrozen(pe, mmio, dma, 'freeze_set', 0, pe);
  }

  /** Clears freeze bits of one PE (OPAL_PCI_EEH_FREEZE_CLEAR). */
  thaw(pe: Pe, mmio: boolean, dma: boolean): void {
    const m = mmio && pe.mmioFrozen;
    const d = dma && pe.dmaFrozen;
    if (mmio) pe.mmioFrozen = false;
    if (dma) pe.dmaFrozen = false;
    if (!pe.frozen) {
      pe.errorPending = false;
      pe.firstError = undefined;
    }
    this.refresh(pe);
    if (m || d)
      this.ctx.sim.trace.emit('hw.pe.thaw', { phb: this.id, pe: pe.number, mmio: m, dma: d });
  }

  private setFrozen(
    p: Pe,
    mmio: boolean,
    dma: boolean,
    cause: string,
    address: number,
    via: Pe,
    rec?: DiagRecord,
  ): void {
    const m = mmio && !p.mmioFrozen;
    const d = dma && !p.dmaFrozen;
    if (!m && !d) return;
    if (!p.frozen) p.stats.freezes++;
    if (mmio) p.mmioFrozen = true;
    if (dma) p.dmaFrozen = true;
    if (rec) p.firstError ??= rec;
    this.refresh(p);
    this.ctx.sim.trace.emit('hw.pe.freeze', {
      phb: this.id,
      pe: p.number,
      mmio: m,
      dma: d,
      cause,
      addr: hex(address),
      via: via.number,
    });
  }

  /** The PHB fences itself (a PHB-internal error): every PE stops. */
  fence(cause: string): void {
    if (this.fenced || this.dead) return;
    this.fenced = true;
    this.logError({ source: 'phb', dir: 'none', kind: 'fence', address: 0, bdf: undefined });
    this.updateAll();
    this.ctx.sim.trace.emit('hw.phb.fence', { phb: this.id, cause });
  }

  /** The PHB is dead (permanent failure): only firmware-level answers remain. */
  kill(cause: string): void {
    this.dead = true;
    this.updateAll();
    this.ctx.sim.trace.emit('hw.phb.dead', { phb: this.id, cause });
  }

  /**
   * Complete PHB reset (OPAL_RESET_PHB_COMPLETE): asserting resets every
   * function below the PHB; deasserting clears the fence, every freeze and
   * the error log. MODEL: the RTT, PE setup, segments and TCE tables survive
   * (skiboot restores them from its caches, cf. phb3_ioda_reset).
   */
  completeReset(assert: boolean): void {
    this.ctx.sim.trace.emit('hw.phb.reset', { phb: this.id, assert });
    if (assert) {
      this.inReset = true;
      for (const fn of this.rootFunctions) fn.assertReset('fundamental');
    } else {
      this.inReset = false;
      this.fenced = false;
      this.trap = undefined;
      this.log.length = 0;
      this.totalErrors = 0;
      for (const pe of this.peTable) {
        pe.mmioFrozen = false;
        pe.dmaFrozen = false;
        pe.errorPending = false;
        pe.firstError = undefined;
        pe.reset = undefined;
      }
      for (const fn of this.rootFunctions) fn.deassertReset();
    }
    this.updateAll();
  }

  /**
   * Asserts or releases a hot / fundamental reset of every function of a PE
   * (and below). MODEL: while it is asserted the PE's MMIO completes with all
   * 1s and its DMA is refused, without an error being logged (a real device
   * in reset leaves requests unanswered, which the PHB turns into errors).
   */
  resetPe(pe: Pe, kind: ResetKind, assert: boolean): void {
    if (assert) {
      pe.reset = kind;
      pe.resetSince = this.now;
      for (const fn of pe.functions) fn.assertReset(kind);
    } else {
      pe.reset = undefined;
      for (const fn of pe.functions) fn.deassertReset();
    }
    this.refresh(pe);
    this.ctx.sim.trace.emit('hw.pe.reset', { phb: this.id, pe: pe.number, kind, assert });
  }

  /** Recomputes a PE's stop flag; the fast path must look again. */
  private refresh(pe: Pe): void {
    pe.update(this.stopped);
    this.unhit();
  }

  private updateAll(): void {
    for (const pe of this.peTable) pe.update(this.stopped);
    this.unhit();
  }

  // --- Error injection ---

  /** Arms the injection trigger; false if this PHB model cannot inject that kind. */
  armTrap(t: InjectionTrap): boolean {
    if (!this.info.injects.includes(t.source)) return false;
    this.trap = t;
    this.unhit();
    this.ctx.sim.trace.emit('hw.inject.armed', {
      phb: this.id,
      pe: t.pe.number,
      func: t.func,
      addr: hex(t.addr),
      mask: hex(t.mask),
    });
    return true;
  }

  clearTrap(): void {
    this.trap = undefined;
  }

  get armedTrap(): InjectionTrap | undefined {
    return this.trap;
  }

  private fireTrap(t: InjectionTrap, address: number, bdf: Bdf | undefined): void {
    this.trap = undefined;
    this.ctx.sim.trace.emit('hw.inject.fired', {
      phb: this.id,
      pe: t.pe.number,
      func: t.func,
      addr: hex(address),
    });
    this.detect(t.pe, { source: t.source, dir: t.dir, kind: t.kind, address, bdf });
  }

  // --- Error log ---

  private logError(e: DetectedError, pe?: Pe, aer = false): PhbErrorRecord {
    const rec: PhbErrorRecord = {
      ...e,
      seq: ++this.errorSeq,
      t: this.now,
      phb: this.id,
      pe: pe?.number,
      ...(aer ? { aer: true as const } : {}),
    };
    this.log.push(rec);
    if (this.log.length > LOG_KEEP) this.log.shift();
    this.totalErrors++;
    this.ctx.sim.trace.emit('hw.error', {
      phb: this.id,
      pe: pe?.number ?? -1,
      source: rec.source,
      dir: rec.dir,
      kind: rec.kind,
      addr: hex(rec.address),
      bdf: rec.bdf === undefined ? '-' : formatBdf(rec.bdf as Bdf),
    });
    for (const l of this.listeners) l(rec);
    return rec;
  }

  /** Called for every error the PHB logs (the OPAL_EVENT_PCI_ERROR interrupt source). */
  onError(listener: (r: PhbErrorRecord) => void): void {
    this.listeners.push(listener);
  }

  errors(): readonly PhbErrorRecord[] {
    return this.log;
  }

  /** Lowest-numbered PE with an error pending (PEEV), if any. */
  nextErrorPe(): Pe | undefined {
    return this.peTable.find((p) => p.errorPending);
  }

  /** What OPAL_PCI_GET_PHB_DIAG_DATA2 reports. */
  diag(): Omit<PhbDiagData, 'version' | 'len'> {
    return {
      ioType: this.info.diagIoType,
      fenced: this.fenced,
      dead: this.dead,
      totalErrors: this.totalErrors,
      timestamp: this.now,
      records: this.log.slice(),
    };
  }
}
