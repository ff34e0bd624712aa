/**
 * The EEH knobs the host kernel exposes, as an API (a CLI calls it):
 *
 * | here              | Linux                                                        |
 * |-------------------|--------------------------------------------------------------|
 * | devBreak          | /sys/kernel/debug/powerpc/eeh_dev_break (eeh_break_device)  |
 * | devCheck          | /sys/kernel/debug/powerpc/eeh_dev_check                      |
 * | devCanRecover     | /sys/kernel/debug/powerpc/eeh_dev_can_recover                |
 * | maxFreezes        | /sys/kernel/debug/powerpc/eeh_max_freezes                    |
 * | enable            | /sys/kernel/debug/powerpc/eeh_enable                         |
 * | forceRecover      | /sys/kernel/debug/powerpc/eeh_force_recover                  |
 * | errInject         | /sys/kernel/debug/powerpc/PCIxxxx/err_injct (pnv_eeh_ei_write) |
 * | sysfsPeState      | /sys/bus/pci/devices/<dev>/eeh_pe_state (eeh_sysfs.c)        |
 * | procEeh           | /proc/powerpc/eeh                                            |
 * | pes / peState     | the per-PE fields of struct eeh_pe, for inspection           |
 *
 * cf. arch/powerpc/kernel/eeh.c (debugfs section), eeh_sysfs.c,
 * arch/powerpc/platforms/powernv/eeh-powernv.c (pnv_eeh_ei_write).
 * Device arguments are `<domain>:<bus>:<dev>.<fn>` in hex, as the kernel
 * parses them (`%x:%x:%x.%x`).
 */
import { EEH_PE_BUS, EEH_PE_DEVICE, EEH_PE_ISOLATED, formatPeState } from '../kernel/eeh_consts.js';
import type { EehPe } from '../kernel/eeh_dev.js';
import type { Task } from '../sim/scheduler.js';
import { EINVAL, EIO, ENODEV, ENXIO, EOPNOTSUPP } from '../uapi/errno.js';
import { PCI_COMMAND, PCI_COMMAND_MEMORY } from '../uapi/pci_regs.js';
import type { HostKernel } from './host_kernel.js';
import type { HostPciDev } from './pci_dev.js';
import './trace_events.js';

/** One PE's struct eeh_pe fields, for inspection. */
export interface PeStateInfo {
  readonly pe: string;
  readonly phb: number;
  readonly addr: number;
  readonly type: 'phb' | 'bus' | 'device' | 'vf';
  /** pe->state bits and their names. */
  readonly flags: number;
  readonly flagNames: string;
  readonly checkCount: number;
  readonly freezeCount: number;
  readonly falsePositives: number;
  readonly passDevCnt: number;
  readonly devices: readonly string[];
  readonly parent: string | null;
}

/** /proc/powerpc/eeh */
export interface ProcEeh {
  readonly enabled: boolean;
  readonly noDevice: number;
  readonly ignoredCheck: number;
  readonly totalMmioFfs: number;
  readonly falsePositives: number;
  readonly slotResets: number;
}

function peType(pe: EehPe): PeStateInfo['type'] {
  if (pe.isPhb) return 'phb';
  return pe.type === EEH_PE_BUS ? 'bus' : pe.type === EEH_PE_DEVICE ? 'device' : 'vf';
}

export class EehDebugfs {
  constructor(private readonly k: HostKernel) {}

  private trace(knob: string, arg: string, rc: number): number {
    this.k.sim.trace.emit('host.debugfs', { knob, arg, rc });
    return rc;
  }

  /** eeh_debug_lookup_pdev(): `%x:%x:%x.%x`, -EINVAL / -ENODEV. */
  lookup(arg: string): HostPciDev | number {
    const m = /^\s*([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+)\.([0-9a-fA-F]+)\s*$/.exec(arg);
    if (!m) return -EINVAL;
    const [domain, bus, dev, fn] = m.slice(1).map((x) => Number.parseInt(x as string, 16)) as [
      number,
      number,
      number,
      number,
    ];
    if (dev > 0x1f || fn > 7 || bus > 0xff) return -ENODEV;
    const devfn = (dev << 3) | fn;
    const pdev = this.k.devices.find(
      (d) => d.domain === domain && d.bdf === ((bus << 8) | devfn) && !d.removed,
    );
    return pdev ?? -ENODEV;
  }

  /**
   * eeh_dev_break: eeh_break_device() - clear Memory Space Enable, do an
   * MMIO load from the first memory BAR (in_8: no EEH check, so detection
   * is left to the normal machinery, as for a real asynchronous freeze),
   * restore the command register. The device answers the load with an
   * Unsupported Request and the PHB freezes its PE.
   */
  *devBreak(arg: string): Task<number> {
    const pdev = this.lookup(arg);
    if (typeof pdev === 'number') return this.trace('eeh_dev_break', arg, pdev);
    const bar = [...pdev.hostResources]
      .sort((a, b) => a.index - b.index)
      .find((r) => r.kind === 'mem' && r.start !== 0 && r.size > 0);
    if (!bar) return this.trace('eeh_dev_break', arg, -ENXIO);
    const old = yield* this.k.pciReadConfig(pdev, PCI_COMMAND, 2);
    yield* this.k.pciWriteConfig(pdev, PCI_COMMAND, 2, old & ~PCI_COMMAND_MEMORY);
    yield* this.k.mmioRead(bar.start, 1);
    yield* this.k.pciWriteConfig(pdev, PCI_COMMAND, 2, old);
    return this.trace('eeh_dev_break', arg, 0);
  }

  /** eeh_dev_check: eeh_dev_check_failure() on the device; returns its result (or -errno). */
  *devCheck(arg: string): Task<number> {
    const pdev = this.lookup(arg);
    if (typeof pdev === 'number') return this.trace('eeh_dev_check', arg, pdev);
    if (!pdev.edev) return this.trace('eeh_dev_check', arg, -ENODEV);
    const rc = yield* this.k.eeh.devCheckFailure(pdev.edev);
    return this.trace('eeh_dev_check', arg, rc);
  }

  /** eeh_dev_can_recover: 0 when the bound driver has error_detected and slot_reset. */
  devCanRecover(arg: string): number {
    const pdev = this.lookup(arg);
    if (typeof pdev === 'number') return this.trace('eeh_dev_can_recover', arg, pdev);
    const h = pdev.driver?.errHandler;
    const ok = !!h?.errorDetected && !!h.slotReset;
    return this.trace('eeh_dev_can_recover', arg, ok ? 0 : -EOPNOTSUPP);
  }

  /** eeh_max_freezes */
  get maxFreezes(): number {
    return this.k.eeh.maxFreezes;
  }

  setMaxFreezes(n: number): number {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) return -EINVAL;
    this.k.eeh.maxFreezes = n;
    return this.trace('eeh_max_freezes', String(n), 0);
  }

  /** eeh_enable (EEH_FORCE_DISABLED) */
  get enable(): boolean {
    return this.k.eeh.enabled;
  }

  setEnable(on: boolean): number {
    this.k.eeh.enabled = on;
    // pnv_eeh_enable_phbs / the error interrupt follow the flag.
    if (on) this.k.ops.enableIrq();
    return this.trace('eeh_enable', on ? '1' : '0', 0);
  }

  /**
   * eeh_force_recover: `hwcheck` queues a special event (the platform is
   * asked for errors); `<phb>:<pe>` (hex) queues a recovery event for that
   * PE without any state check.
   */
  forceRecover(arg: string): number {
    if (arg.trim().startsWith('hwcheck')) {
      this.k.eeh.events.send(undefined);
      return this.trace('eeh_force_recover', arg, 0);
    }
    const m = /^\s*([0-9a-fA-F]+):([0-9a-fA-F]+)\s*$/.exec(arg);
    if (!m) return this.trace('eeh_force_recover', arg, -EINVAL);
    const phb = Number.parseInt(m[1] as string, 16);
    const peNo = Number.parseInt(m[2] as string, 16);
    if (!this.k.eeh.phbPes[phb]) return this.trace('eeh_force_recover', arg, -ENODEV);
    const pe = this.k.eeh.findPe(phb, peNo);
    if (!pe) return this.trace('eeh_force_recover', arg, -ENODEV);
    this.k.eeh.events.send(pe);
    return this.trace('eeh_force_recover', arg, 0);
  }

  /**
   * PCI<phb>/err_injct: `pe:type:func:addr:mask` (hex) -> eeh_ops->err_inject.
   */
  *errInject(phb: number, arg: string): Task<number> {
    const m =
      /^\s*([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+)\s*$/.exec(
        arg,
      );
    if (!m) return this.trace('err_injct', arg, -EINVAL);
    const [peNo, type, func] = m.slice(1, 4).map((x) => Number.parseInt(x as string, 16)) as [
      number,
      number,
      number,
    ];
    const addr = BigInt(`0x${m[4]}`);
    const mask = BigInt(`0x${m[5]}`);
    const pe = this.k.eeh.findPe(phb, peNo);
    if (!pe) return this.trace('err_injct', arg, -ENODEV);
    const rc = yield* this.k.ops.errInject(pe, type, func, addr, mask);
    return this.trace('err_injct', arg, rc);
  }

  /** eeh_pe_state (sysfs show): `0x<platform state> 0x<pe->state>`. */
  *sysfsPeState(arg: string): Task<string | number> {
    const pdev = this.lookup(arg);
    if (typeof pdev === 'number') return pdev;
    const pe = pdev.edev?.pe;
    if (!pe) return -ENODEV;
    const { state } = yield* this.k.ops.getState(pe);
    const hex8 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
    return `${hex8(state)} ${hex8(pe.state)}\n`;
  }

  /** eeh_pe_state (sysfs store): thaw an isolated PE and clear ISOLATED. */
  *sysfsPeStateStore(arg: string): Task<number> {
    const pdev = this.lookup(arg);
    if (typeof pdev === 'number') return pdev;
    const pe = pdev.edev?.pe;
    if (!pe) return -ENODEV;
    if (!pe.isolated) return 0;
    if (yield* this.k.eeh.unfreezePe(pe)) return -EIO;
    this.k.eeh.stateClear(pe, EEH_PE_ISOLATED, true);
    return 0;
  }

  /** /proc/powerpc/eeh */
  procEeh(): ProcEeh {
    const s = this.k.eeh.stats;
    return {
      enabled: this.k.eeh.enabled,
      noDevice: s.noDevice,
      ignoredCheck: s.ignoredCheck,
      totalMmioFfs: s.totalMmioFfs,
      falsePositives: s.falsePositives,
      slotResets: s.slotResets,
    };
  }

  /** The struct eeh_pe fields of one PE. */
  peInfo(pe: EehPe): PeStateInfo {
    return {
      pe: pe.label,
      phb: pe.phb,
      addr: pe.addr,
      type: peType(pe),
      flags: pe.state,
      flagNames: formatPeState(pe.state),
      checkCount: pe.checkCount,
      freezeCount: pe.freezeCount,
      falsePositives: pe.falsePositives,
      passDevCnt: pe.passDevCnt,
      devices: pe.edevs.map((e) => (e.pdev as HostPciDev | undefined)?.name ?? e.name),
      parent: pe.parent?.label ?? null,
    };
  }

  /** The PE of a device (`dddd:bb:dd.f`), or -errno. */
  peState(arg: string): PeStateInfo | number {
    const pdev = this.lookup(arg);
    if (typeof pdev === 'number') return pdev;
    const pe = pdev.edev?.pe;
    return pe ? this.peInfo(pe) : -ENODEV;
  }

  /** Every PE of the host, PHB PEs first in each tree. */
  pes(): PeStateInfo[] {
    return this.k.eeh.allPes().map((pe) => this.peInfo(pe));
  }
}
