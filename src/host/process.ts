/**
 * Host user processes and their file descriptors: the boundary between a
 * VMM (userspace) and the host kernel (VFIO, KVM). A process reaches kernel
 * objects only through the fds it opened - the security model of the real
 * system - and every ioctl carries its argument as bytes (a user buffer) or
 * as a plain integer, exactly like `ioctl(fd, request, arg)`.
 */
import type { HostMemory, MemoryRegion } from '../hw/memory.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { EBADF, ENODEV, ENOENT, ENOMEM, ENOTTY } from '../uapi/errno.js';

/** The argument of an ioctl: a user buffer (pointer) or an integer. */
export type IoctlArg = ArrayBuffer | number;

/** struct file_operations of one open file. */
export interface FileOps {
  /** What the file is, for inspection (`vfio-container`, `kvm-vm`, ...). */
  readonly kind: string;
  ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number>;
  /** pread(): bytes read or -errno. */
  read?(proc: HostProcess, offset: number, buf: Uint8Array): Task<number>;
  /** pwrite(): bytes written or -errno. */
  write?(proc: HostProcess, offset: number, buf: Uint8Array): Task<number>;
  /** mmap() of a device region: the host physical address mapped, or -errno. */
  mmap?(proc: HostProcess, offset: number, length: number): number;
  release(proc: HostProcess): Task<void>;
}

/** Opens a character device for a process: the new file or -errno. */
export type DeviceOpener = (proc: HostProcess, minor: string) => Task<FileOps | number>;

export class HostProcess {
  /** Identity of the address space (`current->mm`), checked by VFIO. */
  readonly mm: object = {};
  /**
   * Anonymous memory this process mapped (guest RAM of a VMM).
   * MODEL: a process's virtual addresses are the host physical addresses of
   * its pages (identity), so `vaddr` in MAP_DMA or a KVM memory slot is an
   * Hpa - the kernel checks the range belongs to the calling process.
   */
  readonly memory: MemoryRegion[] = [];
  private readonly fds = new Map<number, FileOps>();
  private nextFd = 3;
  constructor(
    readonly pid: number,
    readonly name: string,
  ) {}

  install(file: FileOps): number {
    const fd = this.nextFd++;
    this.fds.set(fd, file);
    return fd;
  }

  file(fd: number): FileOps | undefined {
    return this.fds.get(fd);
  }

  remove(fd: number): FileOps | undefined {
    const f = this.fds.get(fd);
    this.fds.delete(fd);
    return f;
  }

  /** Whether [addr, addr + size) lies inside one region this process mapped. */
  ownsRange(addr: number, size: number): boolean {
    return this.memory.some((r) => addr >= r.base && size >= 0 && addr + size <= r.base + r.size);
  }

  /** Open fds and what they are, for inspection. */
  listFds(): Array<{ fd: number; kind: string }> {
    return [...this.fds].map(([fd, f]) => ({ fd, kind: f.kind }));
  }
}

/**
 * The system-call layer of the host kernel: open / ioctl / pread / pwrite /
 * mmap / close on registered character devices (`/dev/vfio/vfio`,
 * `/dev/vfio/<group>`, `/dev/kvm`). Charges `syscall_ioctl` per ioctl.
 */
export class Syscalls {
  private readonly devices = new Map<string, DeviceOpener>();
  private nextPid = 100;

  constructor(
    private readonly sim: Sim,
    private readonly memory: HostMemory,
  ) {}

  spawnProcess(name: string): HostProcess {
    return new HostProcess(this.nextPid++, name);
  }

  /** Registers `/dev/<dir>/*` (opener gets the last path component). */
  registerDevice(dir: string, opener: DeviceOpener): void {
    this.devices.set(dir, opener);
  }

  *open(proc: HostProcess, path: string): Task<number> {
    const slash = path.lastIndexOf('/');
    const opener = this.devices.get(path.slice(0, slash));
    if (!opener) return -ENOENT;
    const f = yield* opener(proc, path.slice(slash + 1));
    if (typeof f === 'number') return f;
    return proc.install(f);
  }

  *ioctl(proc: HostProcess, fd: number, request: number, arg: IoctlArg): Task<number> {
    yield* this.sim.charge('syscall_ioctl');
    const f = proc.file(fd);
    if (!f) return -EBADF;
    return yield* f.ioctl(proc, request, arg);
  }

  *pread(proc: HostProcess, fd: number, offset: number, buf: Uint8Array): Task<number> {
    yield* this.sim.charge('syscall_ioctl');
    const f = proc.file(fd);
    if (!f) return -EBADF;
    return f.read ? yield* f.read(proc, offset, buf) : -ENOTTY;
  }

  *pwrite(proc: HostProcess, fd: number, offset: number, buf: Uint8Array): Task<number> {
    yield* this.sim.charge('syscall_ioctl');
    const f = proc.file(fd);
    if (!f) return -EBADF;
    return f.write ? yield* f.write(proc, offset, buf) : -ENOTTY;
  }

  /** mmap(MAP_ANONYMOUS): new memory for the process; its address or -ENOMEM. */
  mmapAnonymous(proc: HostProcess, length: number): number {
    if (!Number.isSafeInteger(length) || length <= 0) return -ENOMEM;
    try {
      const region = this.memory.alloc(length, `${proc.name}[${proc.pid}]`);
      proc.memory.push(region);
      return region.base;
    } catch {
      return -ENOMEM;
    }
  }

  mmap(proc: HostProcess, fd: number, offset: number, length: number): number {
    const f = proc.file(fd);
    if (!f) return -EBADF;
    return f.mmap ? f.mmap(proc, offset, length) : -ENODEV;
  }

  *close(proc: HostProcess, fd: number): Task<number> {
    const f = proc.remove(fd);
    if (!f) return -EBADF;
    yield* f.release(proc);
    return 0;
  }
}
