/**
 * A small host for KVM unit tests: the simulation, host memory, a recording
 * MMIO accessor, the syscall layer with /dev/kvm registered, and helpers to
 * run tasks and build ioctl buffers.
 */
import { expect } from 'vitest';
import type { FileOps, HostProcess, IoctlArg } from '../../src/host/process.js';
import { Syscalls } from '../../src/host/process.js';
import { HostMemory, type MemoryRegion } from '../../src/hw/memory.js';
import type { HostMmio, MmioSize } from '../../src/kvm/host_mmio.js';
import { Kvm, type KvmOptions } from '../../src/kvm/kvm.js';
import {
  KVM_SET_USER_MEMORY_REGION,
  kvm_userspace_memory_region,
} from '../../src/kvm/uapi_memory.js';
import type { Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';
import type { Hpa } from '../../src/uapi/ids.js';
import {
  KVM_CREATE_DEVICE,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_DEV_TYPE_VFIO,
  KVM_PPC_RTAS_DEFINE_TOKEN,
  kvm_create_device,
  kvm_rtas_token_args,
} from '../../src/uapi/kvm.js';

export class RecordingMmio implements HostMmio {
  readonly log: string[] = [];
  value = 0x1234_5678;
  mmioRead(hpa: Hpa, size: MmioSize): number {
    this.log.push(`r${size}@0x${hpa.toString(16)}`);
    return this.value & (size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff);
  }
  mmioWrite(hpa: Hpa, size: MmioSize, v: number): void {
    this.log.push(`w${size}@0x${hpa.toString(16)}=0x${v.toString(16)}`);
  }
}

export interface World {
  sim: Sim;
  memory: HostMemory;
  mmio: RecordingMmio;
  sys: Syscalls;
  kvm: Kvm;
}

export function makeWorld(opts: Partial<KvmOptions> = {}): World {
  const sim = new Sim({ seed: 1 });
  const memory = new HostMemory();
  const mmio = new RecordingMmio();
  const sys = new Syscalls(sim, memory);
  const kvm = new Kvm(sim, { memory, mmio, ...opts });
  kvm.register(sys);
  return { sim, memory, mmio, sys, kvm };
}

/** Runs a task as a process to completion and returns its result. */
export function run<T>(w: { sim: Sim }, task: Task<T>, owner = 'vm0'): T {
  const p = w.sim.spawn('test', task, owner);
  w.sim.run();
  expect(p.done).toBe(true);
  return p.result as T;
}

export function ioctl(w: World, proc: HostProcess, fd: number, req: number, arg: IoctlArg): number {
  return run(w, w.sys.ioctl(proc, fd, req, arg));
}

export function open(w: World, proc: HostProcess, path: string): number {
  return run(w, w.sys.open(proc, path));
}

export const tokenArgs = (name: string, token: number | bigint): ArrayBuffer =>
  kvm_rtas_token_args.encode({ name, token });

export const memRegion = (
  slot: number,
  gpa: number,
  size: number,
  uaddr: number,
  flags = 0,
): ArrayBuffer =>
  kvm_userspace_memory_region.encode({
    slot,
    flags,
    guest_phys_addr: gpa,
    memory_size: size,
    userspace_addr: uaddr,
  });

export interface VmSetup extends World {
  proc: HostProcess;
  kvmFd: number;
  vmFd: number;
  vcpuFd: number;
  ram: MemoryRegion;
}

/** A process with /dev/kvm open, one VM with `ramSize` of RAM at GPA 0 and vCPU 0. */
export function makeVm(ramSize = 16 << 20, opts: Partial<KvmOptions> = {}): VmSetup {
  const w = makeWorld(opts);
  const proc = w.sys.spawnProcess('vm0');
  const kvmFd = open(w, proc, '/dev/kvm');
  const vmFd = ioctl(w, proc, kvmFd, KVM_CREATE_VM, 0);
  expect(vmFd).toBeGreaterThan(0);
  const base = w.sys.mmapAnonymous(proc, ramSize);
  const ram = proc.memory.find((r) => r.base === base) as MemoryRegion;
  expect(ioctl(w, proc, vmFd, KVM_SET_USER_MEMORY_REGION, memRegion(0, 0, ramSize, ram.base))).toBe(
    0,
  );
  const vcpuFd = ioctl(w, proc, vmFd, KVM_CREATE_VCPU, 0);
  expect(vcpuFd).toBeGreaterThan(0);
  return { ...w, proc, kvmFd, vmFd, vcpuFd, ram };
}

export function defineToken(s: VmSetup, name: string, token: number | bigint): number {
  return ioctl(s, s.proc, s.vmFd, KVM_PPC_RTAS_DEFINE_TOKEN, tokenArgs(name, token));
}

/** KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO): the device fd. */
export function createVfioDevice(s: VmSetup): number {
  const cd = kvm_create_device.encode({ type: KVM_DEV_TYPE_VFIO });
  expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_DEVICE, cd)).toBe(0);
  return kvm_create_device.get(cd, 0, 'fd') as number;
}

/** A stand-in VFIO group file (the VFIO layer is not on main yet). */
export function fakeGroupFile(kind = 'vfio-group'): FileOps {
  return {
    kind,
    *ioctl(): Task<number> {
      return -25;
    },
    *release(): Task<void> {},
  };
}

/** A page of the process's own memory for pointers inside ioctl arguments. */
export function userPage(w: World, proc: HostProcess): number {
  return w.sys.mmapAnonymous(proc, 4096);
}
