/**
 * dual_function: a two-function endpoint (functions 0 and 1 of one device)
 * whose functions share device state - a mailbox register either function
 * reads and writes - and, by default, one PE. What a multi-function
 * adapter (two ports of one NIC) looks like to EEH: an error on either
 * function freezes both.
 *
 * Each function: BAR0 (32-bit, 4 KiB)
 *   0x00 ID       ro  DUAL_ID_VALUE ('DUAL')
 *   0x04 FUNC     ro  the function number
 *   0x08 SCRATCH  rw  per function
 *   0x0c MAILBOX  rw  shared by both functions
 * MODEL: no DMA engine (testnic has one).
 */
import { type Bdf, bdfBus, bdfDev, bdf as makeBdf } from '../../uapi/ids.js';
import { PCI_EXP_TYPE_ENDPOINT } from '../../uapi/pci_regs.js';
import { type BarDef, defineType0Header } from '../config_layout.js';
import { type AccessSize, ALL_ONES, type ResetKind } from '../config_space.js';
import { type DirectRead, HOST_LITTLE_ENDIAN, type HwContext, PciFunction } from '../device.js';
import { RegisterBank } from '../register_bank.js';

export const DUAL_VENDOR_ID = 0x1234;
export const DUAL_DEVICE_ID = 0xee02;
export const DUAL_ID_VALUE = 0x4455_414c;
export const DUAL_ID = 0x00;
export const DUAL_FUNC = 0x04;
export const DUAL_SCRATCH = 0x08;
export const DUAL_MAILBOX = 0x0c;
export const DUAL_REGS_SIZE = 0x1000;

const BARS: readonly BarDef[] = [{ index: 0, kind: 'mem32', size: DUAL_REGS_SIZE }];

/** State both functions share. */
class DualState {
  readonly functions: DualFunction[] = [];

  /** The mailbox lives in both functions' register banks (kept equal). */
  setMailbox(v: number): void {
    for (const f of this.functions) f.regs.set(DUAL_MAILBOX, v);
  }
}

export class DualFunction extends PciFunction {
  // `declare`d, set in the constructor: see the note in register_bank.ts.
  declare readonly regs: RegisterBank;

  constructor(
    ctx: HwContext,
    bdf: Bdf,
    readonly fn: number,
    private readonly shared: DualState,
  ) {
    super(
      ctx,
      bdf,
      'dual_function',
      BARS,
      (cs) =>
        defineType0Header(
          cs,
          {
            vendor: DUAL_VENDOR_ID,
            device: DUAL_DEVICE_ID,
            classCode: 0x02_80_00,
            multiFunction: fn === 0,
            interruptPin: fn + 1,
          },
          BARS,
        ),
      PCI_EXP_TYPE_ENDPOINT,
    );
    this.regs = new RegisterBank(DUAL_REGS_SIZE, [
      { name: 'ID', offset: DUAL_ID, access: 'ro', reset: DUAL_ID_VALUE },
      { name: 'FUNC', offset: DUAL_FUNC, access: 'ro', reset: fn },
      { name: 'SCRATCH', offset: DUAL_SCRATCH, access: 'rw' },
      {
        name: 'MAILBOX',
        offset: DUAL_MAILBOX,
        access: 'rw',
        write: (v) => this.shared.setMailbox(v),
      },
    ]);
  }

  override directRead(bar: number): DirectRead | undefined {
    return bar === 0 && HOST_LITTLE_ENDIAN ? this.regs.direct() : undefined;
  }

  mmioRead(bar: number, offset: number, size: AccessSize): number {
    return bar === 0 ? this.regs.read(offset, size) : ALL_ONES[size];
  }

  mmioWrite(bar: number, offset: number, size: AccessSize, value: number): void {
    if (bar === 0) this.regs.write(offset, size, value);
  }

  protected resetState(_kind: ResetKind): void {
    this.regs.reset();
    // The shared state belongs to the device: function 0's reset clears it,
    // function 1's reset keeps it.
    if (this.fn === 0) this.shared.setMailbox(0);
    else this.regs.set(DUAL_MAILBOX, this.shared.functions[0]?.regs.get(DUAL_MAILBOX) ?? 0);
  }
}

/** Both functions of one dual_function device at `at` (which must be function 0). */
export function createDualFunction(ctx: HwContext, at: Bdf): DualFunction[] {
  const shared = new DualState();
  for (const fn of [0, 1]) {
    shared.functions.push(new DualFunction(ctx, makeBdf(bdfBus(at), bdfDev(at), fn), fn, shared));
  }
  return shared.functions;
}
