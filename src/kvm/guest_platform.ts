/**
 * What a guest kernel can touch of its virtual machine: the hypercall
 * instruction of its vCPU, guest-physical MMIO (passthrough BARs are mapped
 * straight to the device: no exit), its own RAM, and the device tree its
 * VMM built. The guest kernel (src/guest) is written against this
 * interface only; KVM implements it per VM (src/kvm).
 */
import type { Task } from '../sim/scheduler.js';
import type { GuestDeviceTree } from '../uapi/device_tree.js';
import type { Gpa } from '../uapi/ids.js';
import type { GuestEehEvent } from './eeh_event.js';

export interface GuestRam {
  readonly size: number;
  read(gpa: Gpa, dst: Uint8Array): void;
  write(gpa: Gpa, src: Uint8Array): void;
  /** The guest kernel's own page allocator: a free, aligned GPA range. */
  alloc(size: number, align?: number): Gpa;
}

export interface GuestPlatform {
  /** Owner tag of the VM's processes and trace records (`vm0`, ...). */
  readonly vmName: string;
  /**
   * `sc 1` from the running vCPU: r3 = nr, r4.. = args; resolves to the
   * value left in r3. Charges the hypercall path (real mode, kernel, or an
   * exit to the VMM) as the call takes it.
   */
  hcall(nr: number, args: readonly bigint[]): Task<bigint>;
  /** Guest-physical MMIO load (all 1s of `size` where nothing is mapped). */
  mmioRead(gpa: Gpa, size: 1 | 2 | 4): number;
  mmioWrite(gpa: Gpa, size: 1 | 2 | 4, value: number): void;
  readonly ram: GuestRam;
  deviceTree(): GuestDeviceTree;
  /**
   * PROPOSAL (+notify, not PAPR): the guest's handler of the hypervisor's
   * EEH freeze event (src/kvm/eeh_event.ts), run as a guest process per
   * event. Optional: a platform without it never delivers one.
   */
  onEehEvent?(handler: (ev: GuestEehEvent) => Task<void>): void;
}
