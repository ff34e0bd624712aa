/**
 * EXPERIMENTAL - NEVER MERGED UPSTREAM.
 *
 * The powernv override of the vfio-pci arch hook from the 2013 proposal
 * "[PATCH 2/3] VFIO: VFIO_DEVICE_SET_ADDR_MAPPING command" (Gavin Shan;
 * seed option (a) via VFIO). QEMU would tell the host kernel, on each device
 * fd, the guest-visible address of the device - the virtual PHB's BUID and
 * the device's PAPR config address - so that an in-kernel EEH RTAS handler
 * can find the host PE of a guest call without exiting to QEMU.
 *
 * This module only builds the table; the designs in src/designs/ (and a
 * future in-kernel RTAS path in src/kvm/) query it with `lookup()`.
 * Upstream merged option (d) instead: QEMU handles the RTAS calls and uses
 * VFIO_EEH_PE_OP on the container (./spapr_tce.ts).
 *
 * ABI: VFIO_DEVICE_SET_ADDR_MAPPING and struct vfio_device_addr_mapping
 * from src/uapi/experimental.ts (the model's own layout; minsz = end of
 * `config_addr`).
 */

import type { HostProcess, IoctlArg } from '../host/process.js';
import type { EehPe } from '../kernel/eeh_dev.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { EEXIST, EINVAL, ENODEV, ENOTTY } from '../uapi/errno.js';
import { VFIO_DEVICE_SET_ADDR_MAPPING, vfio_device_addr_mapping } from '../uapi/experimental.js';
import type { Buid } from '../uapi/ids.js';
import type { VfioArchDevice, VfioPciArch } from './arch.js';
import { copyArgszFromUser } from './uaccess.js';

/** Bits a PAPR config address may use here: bus << 16 | devfn << 8. */
const CONFIG_ADDR_MASK = 0x00ff_ff00;

/** EXPERIMENTAL. One guest device address -> host PE. */
export interface AddrMappingEntry {
  readonly buid: Buid;
  readonly configAddr: number;
  /** The device fd's function, `0000:01:00.0`. */
  readonly device: string;
  readonly groupId: number;
  readonly pe: EehPe;
}

const key = (buid: bigint, configAddr: number): string => `${buid.toString(16)}:${configAddr}`;

/**
 * EXPERIMENTAL (never merged): powernv's vfio_pci_arch_ioctl() override
 * keeping the (guest BUID, config address) -> PE table. Install with
 * `vfio.setPciArch(new PowernvAddrMapping(sim))`.
 */
export class PowernvAddrMapping implements VfioPciArch {
  readonly name = 'powernv-experimental-addr-mapping';
  private readonly table = new Map<string, AddrMappingEntry>();

  constructor(private readonly sim: Sim) {}

  *ioctl(_proc: HostProcess, dev: VfioArchDevice, request: number, arg: IoctlArg): Task<number> {
    switch (request) {
      case VFIO_DEVICE_SET_ADDR_MAPPING:
        return this.setMapping(dev, arg);
      default:
        return -ENOTTY;
    }
  }

  /**
   * Checks as a VFIO ioctl would: copy minsz (-EFAULT), argsz and flags
   * (-EINVAL), a config address with bits outside bus/devfn (-EINVAL), the
   * device's group has no PE (-ENODEV), the address is taken by another
   * device (-EEXIST). A device has one mapping; setting it again replaces it.
   */
  private setMapping(dev: VfioArchDevice, arg: IoctlArg): number {
    const st = vfio_device_addr_mapping;
    const minsz = st.offsetofEnd('config_addr');
    const m = copyArgszFromUser(arg, st, minsz);
    if (typeof m === 'number') return m;
    if (m.flags) return -EINVAL;
    if (m.config_addr & ~CONFIG_ADDR_MASK) return -EINVAL;
    const pe = dev.pe();
    if (!pe) return -ENODEV;
    const k = key(m.buid, m.config_addr);
    const taken = this.table.get(k);
    if (taken && taken.device !== dev.name) return -EEXIST;
    this.release(dev);
    this.table.set(k, {
      buid: m.buid as Buid,
      configAddr: m.config_addr,
      device: dev.name,
      groupId: dev.groupId,
      pe,
    });
    this.sim.trace.emit('vfio.experimental.addr_mapping', {
      dev: dev.name,
      buid: `0x${m.buid.toString(16)}`,
      config_addr: `0x${m.config_addr.toString(16)}`,
      pe: pe.label,
    });
    return 0;
  }

  /** The device's last file closed: its mapping goes. */
  release(dev: VfioArchDevice): void {
    for (const [k, e] of this.table) if (e.device === dev.name) this.table.delete(k);
  }

  /** EXPERIMENTAL: the host PE behind a guest (BUID, config address), if mapped. */
  lookup(buid: Buid, configAddr: number): AddrMappingEntry | undefined {
    return this.table.get(key(buid, configAddr));
  }

  entries(): AddrMappingEntry[] {
    return [...this.table.values()];
  }
}
