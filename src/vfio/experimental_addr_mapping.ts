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
  /**
   * The address space (`current->mm`) of the process that set the mapping:
   * a guest address means something only inside the VM of that process.
   */
  readonly owner: object;
}

const key = (buid: bigint, configAddr: number): string => `${buid.toString(16)}:${configAddr}`;

/**
 * EXPERIMENTAL (never merged): powernv's vfio_pci_arch_ioctl() override
 * keeping the (guest BUID, config address) -> PE table. Install with
 * `vfio.setPciArch(new PowernvAddrMapping(sim))`.
 */
export class PowernvAddrMapping implements VfioPciArch {
  readonly name = 'powernv-experimental-addr-mapping';
  /**
   * One table per owner (the setting process's mm): two VMMs give their
   * virtual PHBs the same BUIDs (QEMU: SPAPR_PCI_BASE_BUID + index), so a
   * guest address is only unique within one VM. MODEL: the 2013 patch kept
   * one host-wide table; scoping it by mm is the model's answer to the
   * thread's "why VFIO?" - nothing outside the owner can reach an entry.
   */
  private readonly tables = new Map<object, Map<string, AddrMappingEntry>>();

  constructor(private readonly sim: Sim) {}

  *ioctl(proc: HostProcess, dev: VfioArchDevice, request: number, arg: IoctlArg): Task<number> {
    switch (request) {
      case VFIO_DEVICE_SET_ADDR_MAPPING:
        return this.setMapping(proc.mm, dev, arg);
      default:
        return -ENOTTY;
    }
  }

  /**
   * Checks as a VFIO ioctl would: copy minsz (-EFAULT), argsz and flags
   * (-EINVAL), a config address with bits outside bus/devfn (-EINVAL), the
   * device's group has no PE (-ENODEV), the address is taken by another
   * device of the same owner (-EEXIST). A device has one mapping; setting
   * it again replaces it.
   */
  private setMapping(owner: object, dev: VfioArchDevice, arg: IoctlArg): number {
    const st = vfio_device_addr_mapping;
    const minsz = st.offsetofEnd('config_addr');
    const m = copyArgszFromUser(arg, st, minsz);
    if (typeof m === 'number') return m;
    if (m.flags) return -EINVAL;
    if (m.config_addr & ~CONFIG_ADDR_MASK) return -EINVAL;
    const pe = dev.pe();
    if (!pe) return -ENODEV;
    const k = key(m.buid, m.config_addr);
    const taken = this.tables.get(owner)?.get(k);
    if (taken && taken.device !== dev.name) return -EEXIST;
    this.release(dev);
    let table = this.tables.get(owner);
    if (!table) {
      table = new Map();
      this.tables.set(owner, table);
    }
    table.set(k, {
      buid: m.buid as Buid,
      configAddr: m.config_addr,
      device: dev.name,
      groupId: dev.groupId,
      pe,
      owner,
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
    for (const [owner, table] of this.tables) {
      for (const [k, e] of table) if (e.device === dev.name) table.delete(k);
      if (table.size === 0) this.tables.delete(owner);
    }
  }

  /**
   * EXPERIMENTAL: the host PE behind a guest (BUID, config address), if
   * mapped - by `owner` when given (what an in-kernel user must pass),
   * else by any process (inspection, tests).
   */
  lookup(buid: Buid, configAddr: number, owner?: object): AddrMappingEntry | undefined {
    const k = key(buid, configAddr);
    if (owner !== undefined) return this.tables.get(owner)?.get(k);
    for (const t of this.tables.values()) {
      const e = t.get(k);
      if (e) return e;
    }
    return undefined;
  }

  /**
   * EXPERIMENTAL: the entry of `owner` for a guest RTAS address: the device
   * at that config address, else - for a PE address `(bus << 16) + 1`, as
   * ibm,get-config-addr-info2 returns it - the first device on that bus.
   */
  lookupPe(owner: object, buid: Buid, addr: number): AddrMappingEntry | undefined {
    const table = this.tables.get(owner);
    if (!table) return undefined;
    const exact = table.get(key(buid, addr));
    if (exact) return exact;
    const bus = (addr >>> 16) & 0xff;
    for (const e of table.values()) {
      if (e.buid === buid && ((e.configAddr >>> 16) & 0xff) === bus) return e;
    }
    return undefined;
  }

  entries(): AddrMappingEntry[] {
    return [...this.tables.values()].flatMap((t) => [...t.values()]);
  }
}
