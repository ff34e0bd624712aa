/**
 * copy_from_user() / copy_to_user() for pointers *inside* an ioctl argument
 * (e.g. kvm_device_attr.addr, the group fd of KVM_DEV_VFIO_GROUP_ADD).
 *
 * MODEL (shared with src/host/process.ts): a process's virtual addresses are
 * the host physical addresses of the anonymous memory it mapped
 * (Syscalls.mmapAnonymous); a user pointer is valid when the whole range
 * lies in one region the *calling* process mapped (HostProcess.ownsRange).
 * The same convention gives a RAM memory slot's userspace_addr and VFIO
 * MAP_DMA's vaddr.
 */
import type { HostProcess } from '../host/process.js';
import type { HostMemory } from '../hw/memory.js';
import { hpa } from '../uapi/ids.js';

function start(proc: HostProcess, addr: bigint | number, len: number): number | undefined {
  const a = typeof addr === 'bigint' ? addr : BigInt(addr);
  if (a <= 0n || len < 0 || a + BigInt(len) > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const n = Number(a);
  return proc.ownsRange(n, len) ? n : undefined;
}

/** copy_from_user(): the bytes, or undefined for -EFAULT. */
export function copyFromUser(
  mem: HostMemory,
  proc: HostProcess,
  addr: bigint | number,
  len: number,
): Uint8Array | undefined {
  const at = start(proc, addr, len);
  if (at === undefined) return undefined;
  const out = new Uint8Array(len);
  mem.read(hpa(at), out);
  return out;
}

/** copy_to_user(): false for -EFAULT. */
export function copyToUser(
  mem: HostMemory,
  proc: HostProcess,
  addr: bigint | number,
  src: Uint8Array,
): boolean {
  const at = start(proc, addr, src.length);
  if (at === undefined) return false;
  mem.write(hpa(at), src);
  return true;
}
