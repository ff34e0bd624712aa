/**
 * A fake GuestPlatform for unit tests of the guest layer, standing in for
 * KVM + the VMM + VFIO + the host: RTAS calls are decoded from the guest's
 * argument buffer and answered from a small table with QEMU's semantics
 * (eeh-facts section 2), H_PUT_TCE fills a TCE map, and guest-physical
 * MMIO and device DMA reach a real testnic model (src/hw/devices/testnic.ts)
 * through one fake PE that can be frozen, thawed and reset.
 */
import { TestNic } from '../../src/hw/devices/testnic.js';
import { TCE_PAGE_SIZE } from '../../src/hw/tce.js';
import type { GuestPlatform, GuestRam } from '../../src/kvm/guest_platform.js';
import type { Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';
import type { GuestDeviceTree } from '../../src/uapi/device_tree.js';
import { H_FUNCTION, H_PARAMETER, H_PUT_TCE, H_RTAS, H_SUCCESS } from '../../src/uapi/hcall.js';
import { type Buid, bdf, bdfBus, buid, type Gpa, gpa, liobn } from '../../src/uapi/ids.js';
import {
  buidFromWords,
  RTAS_IBM_CLOSE_ERRINJCT,
  RTAS_IBM_CONFIGURE_PE,
  RTAS_IBM_ERRINJCT,
  RTAS_IBM_GET_CONFIG_ADDR_INFO2,
  RTAS_IBM_OPEN_ERRINJCT,
  RTAS_IBM_READ_PCI_CONFIG,
  RTAS_IBM_READ_SLOT_RESET_STATE2,
  RTAS_IBM_SET_EEH_OPTION,
  RTAS_IBM_SET_SLOT_RESET,
  RTAS_IBM_SLOT_ERROR_DETAIL,
  RTAS_IBM_WRITE_PCI_CONFIG,
  readRtasCall,
  writeRtasRets,
} from '../../src/uapi/rtas.js';

export const TEST_BUID = buid(0x800000020000000n);
export const TEST_LIOBN = 0x8000_0000;
export const BAR0_GPA = 0x2_0000_0000;
export const BAR2_GPA = 0x2_0001_0000;
export const NIC_BDF = bdf(0, 1, 0);

/** The RTAS services QEMU publishes (plus the PCI config ones). */
export const QEMU_TOKENS: Readonly<Record<string, number>> = {
  'ibm,set-eeh-option': RTAS_IBM_SET_EEH_OPTION,
  'ibm,get-config-addr-info2': RTAS_IBM_GET_CONFIG_ADDR_INFO2,
  'ibm,read-slot-reset-state2': RTAS_IBM_READ_SLOT_RESET_STATE2,
  'ibm,set-slot-reset': RTAS_IBM_SET_SLOT_RESET,
  'ibm,configure-pe': RTAS_IBM_CONFIGURE_PE,
  'ibm,slot-error-detail': RTAS_IBM_SLOT_ERROR_DETAIL,
  'ibm,read-pci-config': RTAS_IBM_READ_PCI_CONFIG,
  'ibm,write-pci-config': RTAS_IBM_WRITE_PCI_CONFIG,
};

export const ERRINJCT_TOKENS: Readonly<Record<string, number>> = {
  'ibm,errinjct': RTAS_IBM_ERRINJCT,
  'ibm,open-errinjct': RTAS_IBM_OPEN_ERRINJCT,
  'ibm,close-errinjct': RTAS_IBM_CLOSE_ERRINJCT,
};

class FakeRam implements GuestRam {
  readonly bytes: Uint8Array;
  private next = 0x10_0000;
  constructor(readonly size: number) {
    this.bytes = new Uint8Array(size);
  }
  read(at: Gpa, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(at, at + dst.length));
  }
  write(at: Gpa, src: Uint8Array): void {
    this.bytes.set(src, at);
  }
  alloc(size: number, align = 8): Gpa {
    const at = Math.ceil(this.next / align) * align;
    if (at + size > this.size) throw new RangeError('fake RAM exhausted');
    this.next = at + size;
    return gpa(at);
  }
}

export interface FakePe {
  mmioFrozen: boolean;
  dmaFrozen: boolean;
  reset: boolean;
  /** Answer "unavailable" (state 5) this many more times. */
  unavailable: number;
}

export interface RtasLogEntry {
  readonly name: string;
  readonly args: readonly number[];
  readonly rets: readonly number[];
  readonly t: number;
}

export interface FakeOptions {
  tokens?: Readonly<Record<string, number>>;
  /** Return -8 for a fundamental set-slot-reset. */
  noFundamentalReset?: boolean;
  /** Statuses configure-pe returns in turn (then 0). */
  configureSequence?: number[];
  /** PE-unavailable hint returned with state 5 (QEMU: 1000). */
  unavailableMs?: number;
  /** The "EEH supported" word of read-slot-reset-state2 (QEMU: 1). */
  eehSupported?: number;
  /** get-config-addr-info2 mode (QEMU: 2 shared). */
  peMode?: number;
  seed?: number;
}

export class FakeGuestPlatform implements GuestPlatform {
  readonly vmName = 'vm0';
  readonly sim: Sim;
  readonly ram = new FakeRam(32 << 20);
  readonly nic: TestNic;
  readonly pe: FakePe = { mmioFrozen: false, dmaFrozen: false, reset: false, unavailable: 0 };
  readonly tces = new Map<number, number>();
  readonly rtasLog: RtasLogEntry[] = [];
  readonly hcalls = new Map<number, number>();
  droppedStores = 0;
  configureSequence: number[];
  /** Per-call overrides: return the rets (status first) to answer instead. */
  readonly override = new Map<string, (args: readonly number[]) => number[] | undefined>();
  private readonly tree: GuestDeviceTree;
  private readonly tokenNames = new Map<number, string>();
  private errinjctOpen = false;
  readonly injected: number[][] = [];

  constructor(readonly opts: FakeOptions = {}) {
    this.sim = new Sim({ seed: opts.seed ?? 1 });
    this.configureSequence = [...(opts.configureSequence ?? [])];
    this.nic = new TestNic({ sim: this.sim }, NIC_BDF);
    this.nic.host = {
      dma: {
        read: (iova, dst) => this.dma(iova, dst, false),
        write: (iova, src) => this.dma(iova, src, true),
      },
      changed: () => {},
    };
    const tokens = opts.tokens ?? QEMU_TOKENS;
    for (const [n, t] of Object.entries(tokens)) this.tokenNames.set(t, n);
    this.tree = {
      rtasTokens: tokens,
      phbs: [
        {
          index: 0,
          buid: TEST_BUID,
          eehSupported: true,
          dmaWindow: { liobn: liobn(TEST_LIOBN), iovaBase: 0, size: 1 << 30 },
          devices: [
            {
              bdf: NIC_BDF,
              configAddr: (0 << 16) | (NIC_BDF << 8),
              vendor: 0x1234,
              device: 0xee01,
              bars: [
                { index: 0, gpa: gpa(BAR0_GPA), size: 0x1000 },
                { index: 2, gpa: gpa(BAR2_GPA), size: 0x1_0000 },
              ],
            },
          ],
        },
      ],
    };
  }

  deviceTree(): GuestDeviceTree {
    return this.tree;
  }

  /** What the real PHB does on an error: MMIO and DMA of the PE stop. */
  freeze(): void {
    this.pe.mmioFrozen = true;
    this.pe.dmaFrozen = true;
  }

  get frozen(): boolean {
    return this.pe.mmioFrozen || this.pe.reset;
  }

  readonly oracle = { mmioFrozen: (_gpa: number) => this.frozen };

  calls(name: string): RtasLogEntry[] {
    return this.rtasLog.filter((e) => e.name === name);
  }

  // ---- CPU side ----------------------------------------------------------------

  mmioRead(at: Gpa, size: 1 | 2 | 4): number {
    const ones = size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
    const hit = this.decode(at);
    if (!hit) return ones;
    if (this.frozen || !this.nic.responding) return ones;
    if (!this.nic.memoryEnabled) {
      // Unsupported request: the PHB freezes the PE.
      this.freeze();
      return ones;
    }
    return this.nic.mmioRead(hit.bar, hit.off, size);
  }

  mmioWrite(at: Gpa, size: 1 | 2 | 4, value: number): void {
    const hit = this.decode(at);
    if (!hit) return;
    if (this.frozen || !this.nic.responding || !this.nic.memoryEnabled) {
      this.droppedStores++;
      return;
    }
    this.nic.mmioWrite(hit.bar, hit.off, size, value);
  }

  private decode(at: number): { bar: number; off: number } | undefined {
    if (at >= BAR0_GPA && at < BAR0_GPA + 0x1000) return { bar: 0, off: at - BAR0_GPA };
    if (at >= BAR2_GPA && at < BAR2_GPA + 0x1_0000) return { bar: 2, off: at - BAR2_GPA };
    return undefined;
  }

  *hcall(nr: number, args: readonly bigint[]): Task<bigint> {
    this.hcalls.set(nr, (this.hcalls.get(nr) ?? 0) + 1);
    switch (nr) {
      case H_RTAS:
        // Upstream design: every EEH call exits to the VMM.
        yield* this.sim.charge('hcall_kernel');
        yield* this.sim.charge('exit_to_userspace');
        yield* this.sim.charge('qemu_rtas_dispatch');
        this.rtas(Number(args[0]));
        return BigInt(H_SUCCESS);
      case H_PUT_TCE: {
        yield* this.sim.charge('hcall_realmode');
        const [lb, ioba, tce] = args.map(Number) as [number, number, number];
        if (lb !== TEST_LIOBN || ioba % TCE_PAGE_SIZE) return BigInt(H_PARAMETER);
        if (tce & 3) this.tces.set(ioba / TCE_PAGE_SIZE, tce);
        else this.tces.delete(ioba / TCE_PAGE_SIZE);
        return BigInt(H_SUCCESS);
      }
      default:
        return BigInt(H_FUNCTION);
    }
  }

  // ---- device side: DMA through the fake TCE table ------------------------------

  private dma(iova: number, buf: Uint8Array, toMemory: boolean): boolean {
    if (this.pe.dmaFrozen || this.pe.reset) return false;
    let done = 0;
    while (done < buf.length) {
      const a = iova + done;
      const tce = this.tces.get(Math.floor(a / TCE_PAGE_SIZE));
      const need = toMemory ? 2 : 1;
      if (tce === undefined || !(tce & need)) {
        // A DMA without a valid TCE: the PHB freezes the PE.
        this.freeze();
        return false;
      }
      const off = a % TCE_PAGE_SIZE;
      const n = Math.min(TCE_PAGE_SIZE - off, buf.length - done);
      const host = (tce & ~0xfff) + off;
      if (toMemory) this.ram.bytes.set(buf.subarray(done, done + n), host);
      else buf.set(this.ram.bytes.subarray(host, host + n), done);
      done += n;
    }
    return true;
  }

  // ---- RTAS (QEMU hw/ppc/spapr_pci.c semantics) --------------------------------

  private rtas(at: number): void {
    const view = new DataView(this.ram.bytes.buffer, at, 88);
    const dec = readRtasCall(view, 0);
    if (!dec.ok) throw new Error('bad rtas buffer');
    const { token, nargs, nret, args } = dec.value;
    const name = this.tokenNames.get(token) ?? `token-${token}`;
    const rets = this.override.get(name)?.(args) ?? this.handle(name, args, nargs, nret);
    const out = rets.slice(0, nret);
    writeRtasRets(
      view,
      0,
      nargs,
      out.map((r) => r >>> 0),
    );
    this.rtasLog.push({ name, args, rets: out, t: this.sim.now });
  }

  private handle(name: string, a: readonly number[], nargs: number, nret: number): number[] {
    const P = -3;
    const buidOk = () => buidFromWords(a[1] ?? 0, a[2] ?? 0) === (TEST_BUID as Buid);
    const pe = this.pe;
    switch (name) {
      case 'ibm,set-eeh-option': {
        if (nargs !== 4 || nret !== 1 || !buidOk()) return [P];
        const opt = a[3];
        if (opt === 2) pe.mmioFrozen = false;
        else if (opt === 3) pe.dmaFrozen = false;
        else if (opt !== 0 && opt !== 1) return [P];
        return [0];
      }
      case 'ibm,get-config-addr-info2': {
        if (nargs !== 4 || nret !== 2 || !buidOk()) return [P];
        const bus = ((a[0] ?? 0) >>> 16) & 0xff;
        if (a[3] === 0) return [0, (bus << 16) + 1];
        if (a[3] === 1) return [0, this.opts.peMode ?? 2];
        return [P];
      }
      case 'ibm,read-slot-reset-state2': {
        if (nargs !== 3 || (nret !== 4 && nret !== 5) || !buidOk()) return [P];
        let state = 0;
        if (pe.unavailable > 0) {
          pe.unavailable--;
          state = 5;
        } else if (pe.reset) state = 1;
        else if (pe.mmioFrozen && pe.dmaFrozen) state = 2;
        else if (pe.dmaFrozen) state = 4;
        else if (pe.mmioFrozen) state = 5;
        return [0, state, this.opts.eehSupported ?? 1, this.opts.unavailableMs ?? 1000, 0];
      }
      case 'ibm,set-slot-reset': {
        if (nargs !== 4 || nret !== 1 || !buidOk()) return [P];
        const opt = a[3];
        if (opt === 3 && this.opts.noFundamentalReset) return [-8];
        if (opt === 1 || opt === 3) {
          pe.reset = true;
          this.freeze();
          this.nic.assertReset(opt === 1 ? 'hot' : 'fundamental');
          return [0];
        }
        if (opt === 0) {
          pe.reset = false;
          pe.mmioFrozen = false;
          pe.dmaFrozen = false;
          this.nic.deassertReset();
          return [0];
        }
        return [P];
      }
      case 'ibm,configure-pe':
        if (nargs !== 3 || nret !== 1 || !buidOk()) return [P];
        return [this.configureSequence.shift() ?? 0];
      case 'ibm,slot-error-detail':
        if (nargs !== 8 || nret !== 1 || !buidOk()) return [P];
        return [1];
      case 'ibm,read-pci-config': {
        if (nargs !== 4 || nret !== 2 || !buidOk()) return [P];
        const size = a[3] as 1 | 2 | 4;
        const ones = size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
        if (!this.isNic(a[0] ?? 0)) return [P];
        if (this.frozen || !this.nic.responding) return [0, ones];
        return [0, this.nic.configRead(this.reg(a[0] ?? 0), size)];
      }
      case 'ibm,write-pci-config': {
        if (nargs !== 5 || nret !== 1 || !buidOk()) return [P];
        if (!this.isNic(a[0] ?? 0)) return [P];
        if (!this.frozen && this.nic.responding) {
          this.nic.configWrite(this.reg(a[0] ?? 0), a[3] as 1 | 2 | 4, a[4] ?? 0);
        }
        return [0];
      }
      case 'ibm,open-errinjct':
        if (this.errinjctOpen) return [0, -4];
        this.errinjctOpen = true;
        return [7, 0];
      case 'ibm,errinjct': {
        const words: number[] = [];
        const v = new DataView(this.ram.bytes.buffer, a[2] ?? 0, 64);
        for (let i = 0; i < 8; i++) words.push(v.getUint32(4 * i));
        this.injected.push([a[0] ?? 0, a[1] ?? 0, ...words]);
        this.freeze();
        return [0];
      }
      case 'ibm,close-errinjct':
        this.errinjctOpen = false;
        return [0];
      default:
        return [P];
    }
  }

  private isNic(cfg: number): boolean {
    return bdfBus(NIC_BDF) === ((cfg >>> 16) & 0xff) && ((cfg >>> 8) & 0xff) === (NIC_BDF & 0xff);
  }

  private reg(cfg: number): number {
    return (((cfg >>> 28) & 0xf) << 8) | (cfg & 0xff);
  }
}
