/**
 * A whole host for VMM contract tests: the real VFIO layer (over the fake
 * host backend of test/vfio, with a real EehCore on fake eeh_ops), the real
 * KVM module, the syscall layer, and a VMM started on top. A "guest" helper
 * issues RTAS calls the way a pseries guest does: it writes struct
 * rtas_args into guest RAM and makes the H_RTAS hypercall through KVM.
 */
import { expect } from 'vitest';
import { Syscalls } from '../../src/host/process.js';
import { HostMemory } from '../../src/hw/memory.js';
import { Kvm, type KvmOptions } from '../../src/kvm/kvm.js';
import type { Vm } from '../../src/kvm/vm.js';
import type { Task } from '../../src/sim/scheduler.js';
import { H_RTAS } from '../../src/uapi/hcall.js';
import { gpa } from '../../src/uapi/ids.js';
import {
  buidHi,
  buidLo,
  encodeRtasCall,
  RTAS_ARGS_KVM_SIZE,
  RTAS_IBM_READ_PCI_CONFIG,
  RTAS_IBM_WRITE_PCI_CONFIG,
  readRtasCall,
  rtasCallByName,
} from '../../src/uapi/rtas.js';
import { Vmm, type VmmOptions, type VmmStartResult } from '../../src/vmm/vmm.js';
import { RecordingMmio } from '../kvm/helpers.js';
import { makeHost } from '../vfio/fake_backend.js';

export const ARGS_GPA = 0x20_0000;

export function makeWorld(
  opts: Partial<VmmOptions> = {},
  before?: (h: ReturnType<typeof makeHost>) => void,
  kvmOpts: Partial<KvmOptions> = {},
) {
  const h = makeHost();
  before?.(h);
  // Host RAM above the fake host's BARs (which sit at 16 GiB).
  const memory = new HostMemory({ base: 0x20_0000_0000 });
  const sys = new Syscalls(h.sim, memory);
  h.vfio.register(sys);
  const mmio = new RecordingMmio();
  const kvm = new Kvm(h.sim, { memory, mmio, ...kvmOpts });
  kvm.register(sys);
  const vmm = new Vmm(
    h.sim,
    { syscalls: sys, memory, kvm },
    {
      name: 'vm0',
      ramSize: 16 << 20,
      phbs: [{ iommuGroup: 1, devices: [{ host: '0000:01:00.0' }] }, {}],
      ...opts,
    },
  );
  const p = h.sim.spawn('qemu', vmm.start(), 'vm0');
  h.sim.run();
  expect(p.done).toBe(true);
  const started = p.result as VmmStartResult;
  const vm = kvm.vmOf(vmm.proc, vmm.vmFd) as Vm;
  return { ...h, memory, sys, mmio, kvm, vmm, vm, started };
}

export type World = ReturnType<typeof makeWorld>;

/** Runs a task in a process of the guest (owner vm0); returns its result and the virtual time it took. */
export function guestRun<T>(w: World, task: Task<T>): { value: T; dt: number } {
  const t0 = w.sim.now;
  const p = w.sim.spawn('guest', task, 'vm0');
  w.sim.run();
  expect(p.done).toBe(true);
  return { value: p.result as T, dt: w.sim.now - t0 };
}

export interface RtasOut {
  r3: bigint;
  status: number;
  rets: number[];
  dt: number;
}

/** One RTAS call from the guest: H_RTAS with struct rtas_args at ARGS_GPA. */
export function rtas(w: World, token: number, args: readonly number[], nret: number): RtasOut {
  const buf = new Uint8Array(
    encodeRtasCall({ token, args: args.map((a) => a >>> 0), nret }, RTAS_ARGS_KVM_SIZE),
  );
  // pre-fill the result words with a marker to see which ones the call writes
  const view = new DataView(buf.buffer);
  for (let i = 0; i < nret && 12 + 4 * (args.length + i) + 4 <= buf.length; i++) {
    view.setUint32(12 + 4 * (args.length + i), 0xdeadbeef);
  }
  w.vm.ram.write(gpa(ARGS_GPA), buf);
  const { value: r3, dt } = guestRun(w, w.vm.hcall(H_RTAS, [BigInt(ARGS_GPA)]));
  const out = new Uint8Array(RTAS_ARGS_KVM_SIZE);
  w.vm.ram.read(gpa(ARGS_GPA), out);
  const d = readRtasCall(out);
  if (!d.ok) throw new Error('unreadable rtas_args');
  return { r3, status: (d.value.rets[0] ?? 0) | 0, rets: d.value.rets.map((x) => x | 0), dt };
}

const CONFIG_TOKENS: Record<string, number> = {
  'ibm,read-pci-config': RTAS_IBM_READ_PCI_CONFIG,
  'ibm,write-pci-config': RTAS_IBM_WRITE_PCI_CONFIG,
};

export const token = (name: string): number => {
  const t = rtasCallByName(name)?.token ?? CONFIG_TOKENS[name];
  if (t === undefined) throw new Error(`no token for ${name}`);
  return t;
};

export const PHB0 = 0x800000020000000n;
export const PHB1 = 0x800000020000001n;
export const addrWords = (buid: bigint, configAddr = 0): number[] => [
  configAddr,
  buidHi(buid as never),
  buidLo(buid as never),
];
