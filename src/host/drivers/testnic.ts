/**
 * The host driver for testnic (src/hw/devices/testnic.ts), used when the
 * device is not passed through: an EEH-aware driver with every recovery
 * callback, as a well-behaved Linux NIC driver has
 * (Documentation/PCI/pci-error-recovery.rst):
 *
 * - probe: pci_enable_device + pci_set_master (command register), check the
 *   ID register, bring the link up, allocate a coherent DMA buffer;
 * - error_detected: stop I/O; `frozen` -> NEED_RESET, `perm_failure` ->
 *   DISCONNECT;
 * - slot_reset: pci_restore_state() (the config header saved at probe, as
 *   e1000e / ixgbe do - the EEH core restored the BARs too, but while the
 *   PE was still frozen), re-enable, re-check ID, re-initialise (link up)
 *   -> RECOVERED (DISCONNECT if the device does not answer);
 * - resume: restart I/O (wakes workloads waiting for recovery).
 *
 * Register reads use the EEH accessor (readl -> eeh_check_failure on all
 * 1s); a read that returns all 1s while the device is in error is not data.
 *
 * `dmaLoop` is a workload helper: round trips host memory -> device ->
 * host memory through the DMA engine, checking the data, waiting for
 * recovery when the device is in error.
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
import { testnicMatches, testnicStartDma } from '../../kernel/drivers/testnic.js';
import {
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
import {
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_STD_HEADER_SIZEOF,
} from '../../uapi/pci_regs.js';
import type { DmaBuffer, DriverHost } from '../driver_host.js';
import type { HostPciDev } from '../pci_dev.js';
import '../trace_events.js';

/** Bytes of one DMA transfer of the workload (two pages). */
export const TESTNIC_WORKLOAD_LEN = 0x2000;
/** Host DMA buffer: source half then destination half. */
const DMA_BUFFER_SIZE = 2 * TESTNIC_WORKLOAD_LEN;

export type TestnicDevState = 'up' | 'error' | 'failed' | 'removed';

/** Per-device driver data (pci_get_drvdata). */
export class TestnicDevice {
  state: TestnicDevState = 'up';
  /** pci_save_state() at probe: the standard header, restored by slot_reset. */
  savedConfig: number[] | undefined;
  /** Wakes I/O waiting for recovery (resume) or for the end of the device. */
  readonly changed = new WaitQueue();
  readonly counters = {
    probes: 0,
    errorDetected: 0,
    slotResets: 0,
    resumes: 0,
    removes: 0,
    permFailures: 0,
  };
  constructor(
    readonly pdev: HostPciDev,
    /** CPU address of BAR0 (ioremap). */
    readonly regs: number,
    readonly dma: DmaBuffer,
  ) {}
}

export interface DmaLoopResult {
  /** Round trips that completed with matching data. */
  ok: number;
  /** Round trips whose data came back wrong (silent corruption). */
  corrupt: number;
  /** Transfers that ended in error (DMA_ERROR, all-1s status, device in error). */
  failed: number;
  /** Times the loop waited for recovery. */
  waits: number;
  /** Why the loop stopped early, if it did. */
  stopped?: 'failed' | 'removed' | 'timeout';
}

export interface DmaLoopOptions {
  iterations: number;
  /** Pause between round trips (default 10 us). */
  gap?: Ns;
  /** Longest wait for recovery before giving up (default 30 s). */
  recoveryTimeout?: Ns;
}

const ALL_ONES = 0xffff_ffff;

export class TestnicDriver implements PciDriver {
  readonly name = 'testnic';
  readonly errHandler: PciErrorHandlers;
  /** Driver data of the devices bound now (and of the last binding while unbound). */
  readonly devices = new Map<PciDev, TestnicDevice>();

  constructor(private readonly host: DriverHost) {
    const self = this;
    this.errHandler = {
      *errorDetected(pdev, state) {
        return yield* self.errorDetected(pdev, state);
      },
      *slotReset(pdev) {
        return yield* self.slotReset(pdev);
      },
      *resume(pdev) {
        yield* self.resume(pdev);
      },
    };
  }

  matches(vendor: number, device: number): boolean {
    return testnicMatches(vendor, device);
  }

  dev(pdev: PciDev): TestnicDevice | undefined {
    return this.devices.get(pdev);
  }

  private emit(pdev: PciDev, what: string): void {
    this.host.sim.trace.emit('host.testnic', { dev: (pdev as HostPciDev).name, what });
  }

  /** pci_enable_device() + pci_set_master(). */
  private *enable(pdev: HostPciDev): Task<void> {
    const cmd = yield* this.host.configRead(pdev, PCI_COMMAND, 2);
    yield* this.host.configWrite(
      pdev,
      PCI_COMMAND,
      2,
      (cmd === 0xffff ? 0 : cmd) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
    );
  }

  /** pci_save_state(): the standard header (first 64 bytes). */
  private *saveState(d: TestnicDevice): Task<void> {
    const saved: number[] = [];
    for (let off = 0; off < PCI_STD_HEADER_SIZEOF; off += 4) {
      saved.push(yield* this.host.configRead(d.pdev, off, 4));
    }
    d.savedConfig = saved;
  }

  /** pci_restore_state(): the saved header back, the command register last. */
  private *restoreState(d: TestnicDevice): Task<void> {
    const s = d.savedConfig;
    if (!s) return;
    for (let i = s.length - 1; i >= 0; i--) {
      if (i * 4 === PCI_COMMAND) continue;
      yield* this.host.configWrite(d.pdev, i * 4, 4, s[i] as number);
    }
    yield* this.host.configWrite(d.pdev, PCI_COMMAND, 2, (s[PCI_COMMAND / 4] as number) & 0xffff);
  }

  /** Checks ID and brings the link up; false when the device does not answer. */
  private *init(d: TestnicDevice): Task<boolean> {
    const id = yield* this.host.readl(d.regs + TESTNIC_ID);
    if (id !== TESTNIC_ID_VALUE) return false;
    yield* this.host.writel(d.regs + TESTNIC_CONTROL, TESTNIC_CONTROL_ENABLE);
    return true;
  }

  *probe(pdev: PciDev): Task<number> {
    const p = pdev as HostPciDev;
    const bar = p.bar(TESTNIC_REGS_BAR);
    if (!bar || bar.start === 0) return -ENODEV;
    yield* this.enable(p);
    let d = this.devices.get(pdev);
    if (!d) {
      const buf = this.host.dmaAlloc(p, DMA_BUFFER_SIZE);
      if (!buf) return -ENOMEM;
      d = new TestnicDevice(p, bar.start, buf);
      this.devices.set(pdev, d);
    }
    d.counters.probes++;
    if (!(yield* this.init(d))) {
      this.emit(pdev, 'probe: no answer');
      return -EIO;
    }
    yield* this.saveState(d);
    d.state = 'up';
    d.changed.wakeAll(this.host.sim.sched);
    this.emit(pdev, 'probe');
    return 0;
  }

  *remove(pdev: PciDev): Task<void> {
    const d = this.devices.get(pdev);
    if (!d) return;
    d.counters.removes++;
    // Quiesce the device unless it is known dead (writes to it are dropped anyway).
    if (d.state === 'up') yield* this.host.writel(d.regs + TESTNIC_CONTROL, 0);
    if (d.state !== 'failed') d.state = 'removed';
    d.changed.wakeAll(this.host.sim.sched);
    this.emit(pdev, 'remove');
  }

  /** Releases the DMA buffer of a device that will not come back. */
  release(pdev: PciDev): void {
    const d = this.devices.get(pdev);
    if (!d) return;
    this.host.dmaFree(d.pdev, d.dma);
    this.devices.delete(pdev);
  }

  private *errorDetected(pdev: PciDev, state: PciChannelState): Task<PciErsResult> {
    const d = this.devices.get(pdev);
    if (!d) return PCI_ERS_RESULT_DISCONNECT;
    d.counters.errorDetected++;
    this.emit(pdev, `error_detected ${state}`);
    if (state === 'perm_failure') {
      d.counters.permFailures++;
      d.state = 'failed';
      d.changed.wakeAll(this.host.sim.sched);
      return PCI_ERS_RESULT_DISCONNECT;
    }
    d.state = 'error';
    return PCI_ERS_RESULT_NEED_RESET;
  }

  private *slotReset(pdev: PciDev): Task<PciErsResult> {
    const d = this.devices.get(pdev);
    if (!d) return PCI_ERS_RESULT_DISCONNECT;
    d.counters.slotResets++;
    yield* this.restoreState(d);
    yield* this.enable(d.pdev);
    const ok = yield* this.init(d);
    this.emit(pdev, ok ? 'slot_reset' : 'slot_reset: no answer');
    return ok ? PCI_ERS_RESULT_RECOVERED : PCI_ERS_RESULT_DISCONNECT;
  }

  private *resume(pdev: PciDev): Task<void> {
    const d = this.devices.get(pdev);
    if (!d) return;
    d.counters.resumes++;
    d.state = 'up';
    d.changed.wakeAll(this.host.sim.sched);
    this.emit(pdev, 'resume');
  }

  // ---- workload helpers -----------------------------------------------------

  /** LINK_STATUS through the EEH accessor (all 1s while the link is down: a false positive). */
  *readLinkStatus(pdev: PciDev): Task<number> {
    const d = this.devices.get(pdev);
    if (!d) return ALL_ONES;
    return yield* this.host.readl(d.regs + TESTNIC_LINK_STATUS);
  }

  /** Programs one DMA and polls STATUS until it ends: true on DMA_DONE. */
  *dma(pdev: PciDev, toDevice: boolean, iova: number, len: number, devOff: number): Task<boolean> {
    const d = this.devices.get(pdev);
    if (!d) return false;
    const h = this.host;
    yield* testnicStartDma(
      (reg, v) => h.writel(d.regs + reg, v),
      toDevice ? TESTNIC_DMA_TO_DEVICE : TESTNIC_DMA_FROM_DEVICE,
      iova,
      len,
      devOff,
    );
    for (let polls = 0; polls < 10_000; polls++) {
      const st = yield* h.readl(d.regs + TESTNIC_STATUS);
      if (st === ALL_ONES) return false; // the accessor ran eeh_check_failure
      const done = st & (TESTNIC_STATUS_DMA_DONE | TESTNIC_STATUS_DMA_ERROR);
      if (done) {
        yield* h.writel(d.regs + TESTNIC_STATUS, done);
        return (done & TESTNIC_STATUS_DMA_ERROR) === 0;
      }
      yield* sleep(us(1));
    }
    return false;
  }

  /**
   * Asks the device to DMA from an IOVA that has no TCE: the PHB freezes
   * the PE (how a buggy driver or a stale mapping breaks a device).
   */
  *badDma(pdev: PciDev, iova: number): Task<boolean> {
    return yield* this.dma(pdev, true, iova, 64, 0);
  }

  /**
   * Round trips a pattern host -> device buffer -> host, `iterations`
   * times, checking the data. Waits for recovery while the device is in
   * error (error_detected .. resume) and stops when it fails for good.
   */
  *dmaLoop(pdev: PciDev, opts: DmaLoopOptions): Task<DmaLoopResult> {
    const res: DmaLoopResult = { ok: 0, corrupt: 0, failed: 0, waits: 0 };
    const gap = opts.gap ?? us(10);
    const recoveryTimeout = opts.recoveryTimeout ?? ms(30_000);
    const len = TESTNIC_WORKLOAD_LEN;
    for (let i = 0; i < opts.iterations; ) {
      const d = this.devices.get(pdev);
      if (!d) {
        res.stopped = 'removed';
        return res;
      }
      if (d.state === 'failed') {
        res.stopped = 'failed';
        return res;
      }
      if (d.state !== 'up') {
        // In error (until resume) or removed (until the rescan probes it again).
        res.waits++;
        if (!(yield* waitOn(d.changed, recoveryTimeout))) {
          res.stopped = 'timeout';
          return res;
        }
        continue;
      }
      const pattern = new Uint8Array(len);
      for (let k = 0; k < len; k++) pattern[k] = (i * 31 + k * 7 + 1) & 0xff;
      this.host.memWrite(d.dma.hpa, pattern);
      this.host.memWrite(d.dma.hpa + len, new Uint8Array(len));
      const devOff = (i * len) % (TESTNIC_BUFFER_SIZE - len + 1);
      const a = yield* this.dma(pdev, true, d.dma.iova, len, devOff);
      const b = a && (yield* this.dma(pdev, false, d.dma.iova + len, len, devOff));
      if (!b) {
        res.failed++;
        // If the failure froze the device, the check in readl queued recovery;
        // give the EEH thread a chance before retrying.
        yield* sleep(gap);
        if (d.state === 'up') i++; // a plain DMA error (not a freeze): move on
        continue;
      }
      const back = new Uint8Array(len);
      this.host.memRead(d.dma.hpa + len, back);
      if (back.every((v, k) => v === pattern[k])) res.ok++;
      else res.corrupt++;
      i++;
      yield* sleep(gap);
    }
    return res;
  }
}
