/**
 * Guest drivers for testnic (src/hw/devices/testnic.ts), one per recovery
 * behaviour, as the drivers a guest might really have:
 *
 * - `full`: EEH-aware data path (eeh_readl + pci_channel_offline()) and all
 *   recovery callbacks: error_detected -> NEED_RESET, slot_reset
 *   re-initialises the device -> RECOVERED, resume restarts I/O.
 * - `no-handlers`: EEH-aware data path, no pci_error_handlers: the core
 *   removes the device and rescans it (remove() then probe() again).
 * - `slot-reset-fails`: like `full`, but slot_reset reports DISCONNECT: the
 *   device is failed permanently.
 * - `ignores-all-ones`: reads with raw accessors (no EEH check) and uses
 *   all 1s as data - the silent-corruption case. It has the callbacks of
 *   `full` (recovery works when something else detects the freeze).
 *
 * The driver does real work through the device's registers: probe enables
 * the function, checks ID and brings the link up; a DMA is programmed in
 * the DMA_* registers, started with DOORBELL and polled in STATUS.
 *
 * I/O from workloads goes through the device's `TestnicSlot`, which holds
 * it while the device is in error and retries it after recovery, and gives
 * it up when the device failed for good (cf. Documentation/PCI/pci-error-recovery.rst:
 * "the driver ... should not attempt to access the device" until resume).
 * MODEL: the slot outlives a remove/probe cycle, as if the application
 * reopened the re-created device; a real application holding the old
 * instance (a netdev, a block device) would see its I/O fail instead.
 */

import {
  TESTNIC_BUFFER_SIZE,
  TESTNIC_CONTROL,
  TESTNIC_CONTROL_ENABLE,
  TESTNIC_DMA_FROM_DEVICE,
  TESTNIC_DMA_TO_DEVICE,
  TESTNIC_ID,
  TESTNIC_ID_VALUE,
  TESTNIC_LINK_STATUS,
  TESTNIC_REGS_BAR,
  TESTNIC_STATUS,
  TESTNIC_STATUS_DMA_DONE,
  TESTNIC_STATUS_DMA_ERROR,
} from '../../hw/devices/testnic.js';
import { testnicMatches, testnicRegName, testnicStartDma } from '../../kernel/drivers/testnic.js';
import {
  EEH_PE_REMOVED,
  PCI_ERS_RESULT_DISCONNECT,
  PCI_ERS_RESULT_NEED_RESET,
  PCI_ERS_RESULT_RECOVERED,
  type PciChannelState,
  type PciErsResult,
} from '../../kernel/eeh_consts.js';
import type { PciDev, PciDriver, PciErrorHandlers } from '../../kernel/pci.js';
import { sleep, type Task, WaitQueue, waitOn } from '../../sim/scheduler.js';
import { ms, type Ns, us } from '../../sim/time.js';
import { EIO, ENODEV, ENOMEM } from '../../uapi/errno.js';
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from '../../uapi/pci_regs.js';
import type { DmaBuffer, GuestDevice, GuestKernel } from '../kernel.js';
import '../trace_events.js';

export const TESTNIC_BEHAVIOURS = [
  'full',
  'no-handlers',
  'slot-reset-fails',
  'ignores-all-ones',
] as const;
export type TestnicBehaviour = (typeof TESTNIC_BEHAVIOURS)[number];

/** The driver name of a behaviour, for driver_override (`testnic:full`, ...). */
export const testnicDriverName = (b: TestnicBehaviour): string => `testnic:${b}`;

export interface TestnicDriverOptions {
  /** Time between two STATUS polls while a DMA runs (default 1 us). */
  pollNs?: Ns;
  /** A DMA not done after this long failed (default 10 ms). */
  dmaTimeoutNs?: Ns;
  /** Size of each of the two coherent DMA buffers (default: the device buffer, 64 KiB). */
  dmaBufferBytes?: number;
  /** Non-EEH failures (DMA error on a healthy PE, timeout) before an I/O is lost (default 3). */
  maxAttempts?: number;
  /** How often a held I/O re-checks the device besides state-change wakeups (default 10 ms). */
  holdRecheckNs?: Ns;
}

/** The outcome of one attempt at an I/O. */
export type IoAttempt<T> =
  | { readonly kind: 'ok'; readonly value: T }
  /** The device is offline (EEH): hold the I/O and retry after recovery. */
  | { readonly kind: 'offline'; readonly why: string }
  /** A failure that is not an EEH freeze. */
  | { readonly kind: 'failed'; readonly why: string };

export type IoResult<T> =
  | { readonly ok: true; readonly value: T; readonly retried: boolean }
  | { readonly ok: false; readonly why: string };

export interface DmaCheck {
  /** The buffer came back identical. */
  readonly ok: boolean;
  /** Bytes that differ. */
  readonly bad: number;
  readonly bytes: number;
}

export type SlotState =
  /** no testnic driver bound (never probed, or probe failed) */
  | 'absent'
  | 'up'
  /** between error_detected and resume */
  | 'error'
  /** removed (hotplug during recovery: probe will come back) */
  | 'removed'
  /** failed permanently */
  | 'dead';

/** The per-device state of a testnic, kept across remove / probe. */
export class TestnicSlot {
  state: SlotState = 'absent';
  driver: TestnicDriver | undefined;
  /** Guest-physical address of BAR0 (the registers). */
  regs = 0;
  tx: DmaBuffer | undefined;
  rx: DmaBuffer | undefined;
  /** DMA ping-pong sequence number (pattern seed). */
  seq = 0;
  /** I/Os waiting for the device right now. */
  holding = 0;
  readonly changed = new WaitQueue();

  constructor(
    readonly kernel: GuestKernel,
    readonly dev: GuestDevice,
  ) {}

  setState(s: SlotState, why: string): void {
    if (this.state === s) return;
    this.state = s;
    this.kernel.sim.trace.emit('guest.drv', {
      dev: this.dev.name,
      drv: this.driver?.name ?? '-',
      event: s,
      detail: why,
    });
    this.changed.wakeAll(this.kernel.sim.sched);
  }

  /** Why I/O cannot be issued now, or undefined when the device is usable. */
  unusable(): 'dead' | 'absent' | 'error' | 'removed' | 'offline' | undefined {
    const pdev = this.dev.pdev;
    const pe = pdev.edev?.pe;
    if (this.state === 'dead' || pdev.errorState === 'perm_failure') return 'dead';
    if (pe && pe.state & EEH_PE_REMOVED) return 'dead';
    if (this.state === 'absent') return 'absent';
    if (this.state === 'error' || this.state === 'removed') return this.state;
    if (pdev.errorState !== 'normal') return 'offline';
    return undefined;
  }

  /**
   * Runs one I/O: holds it while the device is in error or removed,
   * retries it after recovery, gives up when the device is dead (or after
   * `maxAttempts` non-EEH failures). Accounts it in the device's integrity.
   */
  *submit<T>(op: string, attempt: (drv: TestnicDriver) => Task<IoAttempt<T>>): Task<IoResult<T>> {
    const integ = this.dev.integrity;
    let retried = false;
    let failures = 0;
    for (;;) {
      const why = this.unusable();
      if (why === 'dead' || why === 'absent') {
        const reason = why === 'dead' ? 'device failed' : 'no driver';
        integ.lost(op, reason);
        return { ok: false, why: reason };
      }
      const drv = this.driver;
      if (why !== undefined || !drv) {
        if (!retried) integ.held(op, why ?? 'removed');
        retried = true;
        this.holding++;
        yield* waitOn(this.changed, this.holdRecheck());
        this.holding--;
        continue;
      }
      const r = yield* attempt(drv);
      if (r.kind === 'ok') {
        integ.completed(op, retried);
        return { ok: true, value: r.value, retried };
      }
      if (r.kind === 'offline') {
        if (!retried) integ.held(op, r.why);
        retried = true;
        continue;
      }
      failures++;
      if (failures >= drv.maxAttempts) {
        integ.lost(op, r.why);
        return { ok: false, why: r.why };
      }
    }
  }

  private holdRecheck(): Ns {
    return this.driver?.holdRecheckNs ?? ms(10);
  }

  // The workload-facing operations.

  /** Reads the ID register (an MMIO read that can never legitimately be all 1s). */
  *readId(): Task<IoResult<number>> {
    return yield* this.submit('mmio_read', (d) => d.opReadId(this));
  }

  /** Reads LINK_STATUS (legitimately all 1s while the link is down). */
  *readLinkStatus(): Task<IoResult<number>> {
    return yield* this.submit('link_status', (d) => d.opLinkStatus(this));
  }

  /** A buffer to the device and back, compared end to end. */
  *dmaPingPong(bytes: number): Task<IoResult<DmaCheck>> {
    return yield* this.submit('dma', (d) => d.opDmaPingPong(this, bytes));
  }
}

const slots = new WeakMap<GuestDevice, TestnicSlot>();

/** The testnic slot of a guest device (created on first use). */
export function testnicSlot(kernel: GuestKernel, dev: GuestDevice): TestnicSlot {
  let s = slots.get(dev);
  if (!s) {
    s = new TestnicSlot(kernel, dev);
    slots.set(dev, s);
  }
  return s;
}

interface Read {
  readonly v: number;
  /** The value is all 1s and the device is known offline: not data. */
  readonly offline: boolean;
}

const ALL_ONES = 0xffff_ffff;

export class TestnicDriver implements PciDriver {
  readonly name: string;
  readonly errHandler: PciErrorHandlers | undefined;
  readonly pollNs: Ns;
  readonly dmaTimeoutNs: Ns;
  readonly dmaBufferBytes: number;
  readonly maxAttempts: number;
  readonly holdRecheckNs: Ns;
  /** Whether the data path uses EEH accessors and checks pci_channel_offline(). */
  readonly eehAware: boolean;

  constructor(
    readonly kernel: GuestKernel,
    readonly behaviour: TestnicBehaviour,
    opts: TestnicDriverOptions = {},
  ) {
    this.name = testnicDriverName(behaviour);
    this.pollNs = opts.pollNs ?? us(1);
    this.dmaTimeoutNs = opts.dmaTimeoutNs ?? ms(10);
    this.dmaBufferBytes = Math.min(opts.dmaBufferBytes ?? TESTNIC_BUFFER_SIZE, TESTNIC_BUFFER_SIZE);
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.holdRecheckNs = opts.holdRecheckNs ?? ms(10);
    this.eehAware = behaviour !== 'ignores-all-ones';
    this.errHandler = behaviour === 'no-handlers' ? undefined : this.handlers();
  }

  matches(vendor: number, device: number): boolean {
    return testnicMatches(vendor, device);
  }

  private slotOf(pdev: PciDev): TestnicSlot | undefined {
    const dev = this.kernel.deviceOf(pdev);
    return dev ? testnicSlot(this.kernel, dev) : undefined;
  }

  private drv(slot: TestnicSlot, event: string, detail = ''): void {
    this.kernel.sim.trace.emit('guest.drv', { dev: slot.dev.name, drv: this.name, event, detail });
  }

  // ---- register access ----------------------------------------------------

  /**
   * One register read as this driver does it: EEH-aware drivers use readl()
   * and treat all 1s on an offline device as "no data"; the careless one
   * uses __raw_readl() and takes whatever comes back. Every value used as
   * data goes through the integrity ledger.
   */
  private *rd(slot: TestnicSlot, reg: number, mayBeAllOnes: boolean): Task<Read> {
    const k = this.kernel;
    const addr = slot.regs + reg;
    const name = testnicRegName(reg);
    if (!this.eehAware) {
      const v = yield* k.rawReadl(addr);
      slot.dev.integrity.consumedRead(name, addr, v, 4, mayBeAllOnes);
      return { v, offline: false };
    }
    const v = yield* k.readl(addr);
    if (v === ALL_ONES && k.pciChannelOffline(slot.dev.pdev)) return { v, offline: true };
    slot.dev.integrity.consumedRead(name, addr, v, 4, mayBeAllOnes);
    return { v, offline: false };
  }

  private *wr(slot: TestnicSlot, reg: number, value: number): Task<void> {
    const k = this.kernel;
    const addr = slot.regs + reg;
    const name = testnicRegName(reg);
    slot.dev.integrity.store(name, addr, k.pciChannelOffline(slot.dev.pdev));
    if (this.eehAware) yield* k.writel(addr, value);
    else yield* k.rawWritel(addr, value);
  }

  /** pci_enable_device() + pci_set_master(): memory decoding and bus mastering on. */
  private *enable(slot: TestnicSlot): Task<boolean> {
    const k = this.kernel;
    const pdev = slot.dev.pdev;
    const cmd = yield* k.pciReadConfig(pdev, PCI_COMMAND, 2);
    if (cmd === 0xffff) return false;
    const want = cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    if (want !== cmd) yield* k.pciWriteConfig(pdev, PCI_COMMAND, 2, want);
    return true;
  }

  /** Device initialisation shared by probe and slot_reset: ID check, link up. */
  private *initDevice(slot: TestnicSlot): Task<number> {
    if (!(yield* this.enable(slot))) return -EIO;
    const id = yield* this.rd(slot, TESTNIC_ID, false);
    if (id.offline) return -EIO;
    if (id.v !== TESTNIC_ID_VALUE) return -ENODEV;
    yield* this.wr(slot, TESTNIC_CONTROL, TESTNIC_CONTROL_ENABLE);
    return 0;
  }

  // ---- probe / remove -----------------------------------------------------

  *probe(pdev: PciDev): Task<number> {
    const slot = this.slotOf(pdev);
    const bar0 = pdev.resources.find((r) => r.index === TESTNIC_REGS_BAR && r.size > 0);
    if (!slot || !bar0) return -ENODEV;
    slot.regs = bar0.start;
    slot.driver = this;
    const rc = yield* this.initDevice(slot);
    if (rc) {
      slot.driver = undefined;
      slot.setState('absent', `probe failed ${rc}`);
      return rc;
    }
    const k = this.kernel;
    slot.tx = yield* k.dmaAllocCoherent(slot.dev, this.dmaBufferBytes);
    slot.rx = yield* k.dmaAllocCoherent(slot.dev, this.dmaBufferBytes);
    if (!slot.tx || !slot.rx) {
      yield* this.freeBuffers(slot);
      slot.driver = undefined;
      slot.setState('absent', 'no DMA buffers');
      return -ENOMEM;
    }
    slot.setState('up', 'probe');
    return 0;
  }

  *remove(pdev: PciDev): Task<void> {
    const slot = this.slotOf(pdev);
    if (!slot) return;
    // EEH-aware drivers leave an offline device alone; the careless one does not.
    if (!this.eehAware || !this.kernel.pciChannelOffline(pdev)) {
      yield* this.wr(slot, TESTNIC_CONTROL, 0);
    }
    yield* this.freeBuffers(slot);
    this.drv(slot, 'remove');
    slot.setState(slot.state === 'dead' ? 'dead' : 'removed', 'remove');
    slot.driver = undefined;
  }

  private *freeBuffers(slot: TestnicSlot): Task<void> {
    if (slot.tx) yield* this.kernel.dmaFreeCoherent(slot.dev, slot.tx);
    if (slot.rx) yield* this.kernel.dmaFreeCoherent(slot.dev, slot.rx);
    slot.tx = undefined;
    slot.rx = undefined;
  }

  // ---- recovery callbacks ---------------------------------------------------

  private handlers(): PciErrorHandlers {
    const self = this;
    return {
      *errorDetected(pdev: PciDev, state: PciChannelState): Task<PciErsResult> {
        const slot = self.slotOf(pdev);
        self.drvEvent(slot, 'error_detected', state);
        if (state === 'perm_failure') {
          slot?.setState('dead', 'perm_failure');
          return PCI_ERS_RESULT_DISCONNECT;
        }
        slot?.setState('error', 'error_detected');
        return PCI_ERS_RESULT_NEED_RESET;
      },
      *slotReset(pdev: PciDev): Task<PciErsResult> {
        const slot = self.slotOf(pdev);
        if (!slot) return PCI_ERS_RESULT_DISCONNECT;
        if (self.behaviour === 'slot-reset-fails') {
          self.drvEvent(slot, 'slot_reset', 'DISCONNECT (by behaviour)');
          return PCI_ERS_RESULT_DISCONNECT;
        }
        const rc = yield* self.initDevice(slot);
        self.drvEvent(slot, 'slot_reset', rc ? `reinit failed ${rc}` : 'RECOVERED');
        return rc ? PCI_ERS_RESULT_DISCONNECT : PCI_ERS_RESULT_RECOVERED;
      },
      *resume(pdev: PciDev): Task<void> {
        const slot = self.slotOf(pdev);
        self.drvEvent(slot, 'resume');
        slot?.setState('up', 'resume');
      },
    };
  }

  private drvEvent(slot: TestnicSlot | undefined, event: string, detail = ''): void {
    if (slot) this.drv(slot, event, detail);
  }

  // ---- operations (one attempt each; TestnicSlot.submit retries) ------------

  *opReadId(slot: TestnicSlot): Task<IoAttempt<number>> {
    const r = yield* this.rd(slot, TESTNIC_ID, false);
    if (r.offline) return { kind: 'offline', why: 'ID read all 1s' };
    return { kind: 'ok', value: r.v };
  }

  *opLinkStatus(slot: TestnicSlot): Task<IoAttempt<number>> {
    const r = yield* this.rd(slot, TESTNIC_LINK_STATUS, true);
    if (r.offline) return { kind: 'offline', why: 'LINK_STATUS read all 1s' };
    return { kind: 'ok', value: r.v };
  }

  /**
   * Writes a pattern into the TX buffer, DMAs it into the device, DMAs it
   * back into the RX buffer (pre-filled with the complement) and compares.
   */
  *opDmaPingPong(slot: TestnicSlot, bytes: number): Task<IoAttempt<DmaCheck>> {
    const tx = slot.tx;
    const rx = slot.rx;
    if (!tx || !rx) return { kind: 'failed', why: 'no DMA buffers' };
    const len = Math.max(1, Math.min(bytes, tx.size, rx.size, TESTNIC_BUFFER_SIZE));
    const seq = ++slot.seq;
    const pattern = new Uint8Array(len);
    const junk = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const b = (seq * 131 + i * 7 + (i >>> 8)) & 0xff;
      pattern[i] = b;
      junk[i] = ~b & 0xff;
    }
    const ram = this.kernel.platform.ram;
    ram.write(tx.gpa, pattern);
    ram.write(rx.gpa, junk);
    const a = yield* this.dmaOne(slot, TESTNIC_DMA_TO_DEVICE, tx.iova, len);
    if (a.kind !== 'ok') return a;
    const b = yield* this.dmaOne(slot, TESTNIC_DMA_FROM_DEVICE, rx.iova, len);
    if (b.kind !== 'ok') return b;
    const got = new Uint8Array(len);
    ram.read(rx.gpa, got);
    let bad = 0;
    for (let i = 0; i < len; i++) if (got[i] !== pattern[i]) bad++;
    slot.dev.integrity.dmaChecked(bad === 0, len, bad);
    return { kind: 'ok', value: { ok: bad === 0, bad, bytes: len } };
  }

  /** Programs one DMA, rings the doorbell and polls STATUS until done, error or timeout. */
  private *dmaOne(
    slot: TestnicSlot,
    cmd: number,
    iova: number,
    len: number,
  ): Task<IoAttempt<undefined>> {
    yield* this.wr(slot, TESTNIC_STATUS, TESTNIC_STATUS_DMA_DONE | TESTNIC_STATUS_DMA_ERROR);
    yield* testnicStartDma((reg, v) => this.wr(slot, reg, v), cmd, iova, len, 0);
    const sim = this.kernel.sim;
    const deadline = sim.now + this.dmaTimeoutNs;
    for (;;) {
      yield* sleep(this.pollNs);
      const st = yield* this.rd(slot, TESTNIC_STATUS, false);
      if (st.offline) return { kind: 'offline', why: 'STATUS read all 1s' };
      // A careless driver takes all 1s for "done" (bit 0) before looking at the error bit.
      if (st.v & TESTNIC_STATUS_DMA_DONE) {
        yield* this.wr(slot, TESTNIC_STATUS, TESTNIC_STATUS_DMA_DONE);
        return { kind: 'ok', value: undefined };
      }
      if (st.v & TESTNIC_STATUS_DMA_ERROR) {
        yield* this.wr(slot, TESTNIC_STATUS, TESTNIC_STATUS_DMA_ERROR);
        return yield* this.dmaFailed(slot, 'DMA error');
      }
      if (sim.now >= deadline) return yield* this.dmaFailed(slot, 'DMA timeout');
    }
  }

  /**
   * A DMA failed while the registers still answer (the PHB stopped DMA
   * only, or the descriptor was bad). An EEH-aware driver asks EEH whether
   * the slot is frozen.
   * MODEL: real drivers usually notice through a later all-1s register read
   * or pci_channel_offline(); testnic's registers keep answering while only
   * DMA is stopped, so the driver calls eeh_dev_check_failure() itself.
   */
  private *dmaFailed(slot: TestnicSlot, why: string): Task<IoAttempt<undefined>> {
    if (!this.eehAware) return { kind: 'failed', why };
    const rc = yield* this.kernel.eehDevCheckFailure(slot.dev);
    if (rc || this.kernel.pciChannelOffline(slot.dev.pdev)) return { kind: 'offline', why };
    return { kind: 'failed', why };
  }
}

/**
 * Registers the four testnic drivers in a guest kernel (before boot),
 * `full` first (the default match); the others bind through driver_override
 * (GuestKernelOptions.driverOverride with testnicDriverName(behaviour)).
 */
export function registerTestnicDrivers(
  kernel: GuestKernel,
  opts: TestnicDriverOptions = {},
): Record<TestnicBehaviour, TestnicDriver> {
  const out = {} as Record<TestnicBehaviour, TestnicDriver>;
  for (const b of TESTNIC_BEHAVIOURS) {
    out[b] = new TestnicDriver(kernel, b, opts);
    kernel.registerDriver(out[b]);
  }
  return out;
}
