/**
 * testnic: a small network-card-like endpoint to drive EEH scenarios.
 *
 * BAR0 (32-bit, 4 KiB): registers
 *   0x00 ID          ro   TESTNIC_ID_VALUE ('TNIC')
 *   0x04 CONTROL     rw   ENABLE brings the link up
 *   0x08 STATUS      w1c  DMA_DONE, DMA_ERROR
 *   0x0c SCRATCH     rw
 *   0x10 LINK_STATUS ro   0xffffffff while the link is down - legitimate
 *                          all 1s data, the EEH false-positive case -,
 *                          otherwise LINK_UP | speed << 4 | width << 8
 *   0x14 DOORBELL    wo   TESTNIC_DMA_TO_DEVICE / _FROM_DEVICE starts the DMA
 *                          described by the DMA_* registers
 *   0x18 DMA_IOVA_LO rw   0x1c DMA_IOVA_HI rw
 *   0x20 DMA_LEN     rw   bytes, 1 .. buffer size
 *   0x24 DMA_DEV_OFF rw   offset in the device buffer
 *   0x28 DMA_BUSY    ro   1 while a DMA is in flight
 *   0x2c DMA_COUNT   ro   DMAs completed
 *   0x30 DMA_ERRORS  ro   DMAs that failed (blocked by the PHB, bad descriptor)
 * BAR2 (64-bit prefetchable, 64 KiB): the device buffer, byte addressable.
 *
 * The DMA engine moves bytes between the buffer and host memory through the
 * PHB (IOMMU); it takes dma_page per started 4 KiB page of virtual time and
 * completes through the scheduler, reporting in STATUS.
 * Every register is plain storage the device keeps current, so both BARs
 * are direct mapped for the MMIO fast path (PciFunction.directRead).
 * MODEL: no interrupts (drivers poll STATUS), no rings, one DMA at a time.
 */

import type { Timer } from '../../sim/scheduler.js';
import type { Bdf } from '../../uapi/ids.js';
import { formatBdf } from '../../uapi/ids.js';
import { PCI_EXP_TYPE_ENDPOINT } from '../../uapi/pci_regs.js';
import { type BarDef, defineType0Header } from '../config_layout.js';
import { type AccessSize, ALL_ONES, type ResetKind } from '../config_space.js';
import { type DirectRead, HOST_LITTLE_ENDIAN, type HwContext, PciFunction } from '../device.js';
import { RegisterBank } from '../register_bank.js';
import '../trace_events.js';

/** 0x1234: the vendor id QEMU uses for its own test devices. */
export const TESTNIC_VENDOR_ID = 0x1234;
export const TESTNIC_DEVICE_ID = 0xee01;
export const TESTNIC_ID_VALUE = 0x544e_4943;

export const TESTNIC_ID = 0x00;
export const TESTNIC_CONTROL = 0x04;
export const TESTNIC_CONTROL_ENABLE = 0x1;
export const TESTNIC_STATUS = 0x08;
export const TESTNIC_STATUS_DMA_DONE = 0x1;
export const TESTNIC_STATUS_DMA_ERROR = 0x2;
export const TESTNIC_SCRATCH = 0x0c;
export const TESTNIC_LINK_STATUS = 0x10;
export const TESTNIC_LINK_UP = 0x1;
export const TESTNIC_DOORBELL = 0x14;
export const TESTNIC_DMA_TO_DEVICE = 0x1;
export const TESTNIC_DMA_FROM_DEVICE = 0x2;
export const TESTNIC_DMA_IOVA_LO = 0x18;
export const TESTNIC_DMA_IOVA_HI = 0x1c;
export const TESTNIC_DMA_LEN = 0x20;
export const TESTNIC_DMA_DEV_OFF = 0x24;
export const TESTNIC_DMA_BUSY = 0x28;
export const TESTNIC_DMA_COUNT = 0x2c;
export const TESTNIC_DMA_ERRORS = 0x30;

export const TESTNIC_REGS_BAR = 0;
export const TESTNIC_BUFFER_BAR = 2;
export const TESTNIC_REGS_SIZE = 0x1000;
export const TESTNIC_BUFFER_SIZE = 0x1_0000;

const LINK_DOWN = 0xffff_ffff;

const BARS: readonly BarDef[] = [
  { index: TESTNIC_REGS_BAR, kind: 'mem32', size: TESTNIC_REGS_SIZE },
  { index: TESTNIC_BUFFER_BAR, kind: 'mem64', size: TESTNIC_BUFFER_SIZE, prefetchable: true },
];

export class TestNic extends PciFunction {
  // `declare`d, set in the constructor: see the note in register_bank.ts.
  declare readonly regs: RegisterBank;
  readonly buffer = new Uint8Array(TESTNIC_BUFFER_SIZE);
  private readonly bufferView = new DataView(this.buffer.buffer);
  /** The buffer BAR is plain memory: every word can be read directly. */
  private readonly bufferDirect: DirectRead = {
    words: new Uint32Array(this.buffer.buffer),
    size: TESTNIC_BUFFER_SIZE,
  };
  private cablePlugged = true;
  private inflight: Timer | undefined;

  constructor(ctx: HwContext, bdf: Bdf) {
    super(
      ctx,
      bdf,
      'testnic',
      BARS,
      (cs) =>
        defineType0Header(
          cs,
          {
            vendor: TESTNIC_VENDOR_ID,
            device: TESTNIC_DEVICE_ID,
            classCode: 0x02_00_00,
            revision: 1,
            interruptPin: 1,
          },
          BARS,
        ),
      PCI_EXP_TYPE_ENDPOINT,
    );
    this.regs = new RegisterBank(TESTNIC_REGS_SIZE, [
      { name: 'ID', offset: TESTNIC_ID, access: 'ro', reset: TESTNIC_ID_VALUE },
      {
        name: 'CONTROL',
        offset: TESTNIC_CONTROL,
        access: 'rw',
        write: () => this.updateLink(),
      },
      { name: 'STATUS', offset: TESTNIC_STATUS, access: 'w1c' },
      { name: 'SCRATCH', offset: TESTNIC_SCRATCH, access: 'rw' },
      { name: 'LINK_STATUS', offset: TESTNIC_LINK_STATUS, access: 'ro', reset: LINK_DOWN },
      {
        name: 'DOORBELL',
        offset: TESTNIC_DOORBELL,
        access: 'wo',
        write: (v) => this.doorbell(v),
      },
      { name: 'DMA_IOVA_LO', offset: TESTNIC_DMA_IOVA_LO, access: 'rw' },
      { name: 'DMA_IOVA_HI', offset: TESTNIC_DMA_IOVA_HI, access: 'rw' },
      { name: 'DMA_LEN', offset: TESTNIC_DMA_LEN, access: 'rw' },
      { name: 'DMA_DEV_OFF', offset: TESTNIC_DMA_DEV_OFF, access: 'rw' },
      { name: 'DMA_BUSY', offset: TESTNIC_DMA_BUSY, access: 'ro' },
      { name: 'DMA_COUNT', offset: TESTNIC_DMA_COUNT, access: 'ro' },
      { name: 'DMA_ERRORS', offset: TESTNIC_DMA_ERRORS, access: 'ro' },
    ]);
  }

  /** Whether a cable is plugged in (the link also needs CONTROL.ENABLE). */
  get cable(): boolean {
    return this.cablePlugged;
  }

  set cable(plugged: boolean) {
    this.cablePlugged = plugged;
    this.updateLink();
  }

  get linkUp(): boolean {
    return this.cablePlugged && (this.regs.get(TESTNIC_CONTROL) & TESTNIC_CONTROL_ENABLE) !== 0;
  }

  /**
   * Registers are plain storage the device keeps current (so BAR0 can be
   * direct mapped): LINK_STATUS follows CONTROL and the cable. 8 GT/s x8
   * when up; all 1s while down (legitimate data, not an error).
   */
  private updateLink(): void {
    this.regs.set(
      TESTNIC_LINK_STATUS,
      this.linkUp ? TESTNIC_LINK_UP | (3 << 4) | (8 << 8) : LINK_DOWN,
    );
  }

  override directRead(bar: number): DirectRead | undefined {
    if (!HOST_LITTLE_ENDIAN) return undefined;
    if (bar === TESTNIC_REGS_BAR) return this.regs.direct();
    if (bar === TESTNIC_BUFFER_BAR) return this.bufferDirect;
    return undefined;
  }

  mmioRead(bar: number, offset: number, size: AccessSize): number {
    if (bar === TESTNIC_REGS_BAR) return this.regs.read(offset, size);
    if (bar === TESTNIC_BUFFER_BAR) {
      const v = this.bufferView;
      return size === 4
        ? v.getUint32(offset, true)
        : size === 2
          ? v.getUint16(offset, true)
          : v.getUint8(offset);
    }
    return ALL_ONES[size];
  }

  mmioWrite(bar: number, offset: number, size: AccessSize, value: number): void {
    if (bar === TESTNIC_REGS_BAR) this.regs.write(offset, size, value);
    else if (bar === TESTNIC_BUFFER_BAR) {
      const v = this.bufferView;
      if (size === 4) v.setUint32(offset, value >>> 0, true);
      else if (size === 2) v.setUint16(offset, value & 0xffff, true);
      else v.setUint8(offset, value & 0xff);
    }
  }

  private doorbell(cmd: number): void {
    const r = this.regs;
    const len = r.get(TESTNIC_DMA_LEN);
    const off = r.get(TESTNIC_DMA_DEV_OFF);
    const iova = r.get(TESTNIC_DMA_IOVA_HI) * 2 ** 32 + r.get(TESTNIC_DMA_IOVA_LO);
    const toDevice = cmd === TESTNIC_DMA_TO_DEVICE;
    const valid =
      (toDevice || cmd === TESTNIC_DMA_FROM_DEVICE) &&
      this.inflight === undefined &&
      this.busMaster &&
      len > 0 &&
      off + len <= TESTNIC_BUFFER_SIZE;
    if (!valid) {
      this.finish(false);
      return;
    }
    const pages = Math.ceil(((iova % 4096) + len) / 4096);
    const sim = this.ctx.sim;
    r.set(TESTNIC_DMA_BUSY, 1);
    this.inflight = sim.sched.after(sim.costs.ns('dma_page') * pages, () => {
      this.inflight = undefined;
      r.set(TESTNIC_DMA_BUSY, 0);
      const part = this.buffer.subarray(off, off + len);
      // to device: the device reads host memory; from device: it writes it.
      const ok = toDevice ? this.host.dma.read(iova, part) : this.host.dma.write(iova, part);
      sim.trace.emit('hw.dev.dma', {
        bdf: formatBdf(this.bdf),
        dir: toDevice ? 'to_device' : 'from_device',
        iova: `0x${iova.toString(16)}`,
        len,
        ok,
      });
      this.finish(ok);
    });
  }

  private finish(ok: boolean): void {
    const r = this.regs;
    if (ok) {
      r.setBits(TESTNIC_STATUS, TESTNIC_STATUS_DMA_DONE);
      r.set(TESTNIC_DMA_COUNT, r.get(TESTNIC_DMA_COUNT) + 1);
    } else {
      r.setBits(TESTNIC_STATUS, TESTNIC_STATUS_DMA_ERROR);
      r.set(TESTNIC_DMA_ERRORS, r.get(TESTNIC_DMA_ERRORS) + 1);
    }
  }

  protected resetState(_kind: ResetKind): void {
    this.inflight?.cancel();
    this.inflight = undefined;
    this.regs.reset();
    this.buffer.fill(0);
    this.updateLink();
  }
}

export function createTestNic(ctx: HwContext, bdf: Bdf): TestNic {
  return new TestNic(ctx, bdf);
}
