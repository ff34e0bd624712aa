/**
 * eventfd(2) (cf. fs/eventfd.c): a 64-bit counter behind an fd. The kernel
 * side signals it (eventfd_signal: counter += 1, wake the readers); a
 * userspace reader blocks in read() until the counter is non-zero, then
 * gets the counter and resets it to 0. VFIO takes one as an interrupt's
 * trigger in VFIO_DEVICE_SET_IRQS (DATA_EVENTFD, eventfd_ctx_fdget in the
 * caller's fd table) - e.g. the error trigger of VFIO_PCI_ERR_IRQ_INDEX.
 *
 *   const fd = createEventfd(sim, proc);                 // eventfd(0, 0)
 *   const n = yield* syscalls.pread(proc, fd, 0, buf8);  // blocks until signalled
 *
 * MODEL: no EFD_NONBLOCK / EFD_SEMAPHORE and no write() from userspace; a
 * blocked reader resumes at the signal's virtual time (the wake-up latency
 * is charged by whoever delivers the signal, see src/vfio/device.ts);
 * eventfd() itself is not charged (set-up only).
 */
import { type Task, WaitQueue, waitOn } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { EINVAL, ENOTTY } from '../uapi/errno.js';
import type { FileOps, HostProcess } from './process.js';
import './trace_events.js';

export class EventFd implements FileOps {
  readonly kind = 'eventfd';
  /** ctx->count */
  count = 0n;
  /** eventfd_signal() calls since creation. */
  signals = 0;
  private readonly wq = new WaitQueue();

  constructor(
    private readonly sim: Sim,
    /** The process that created it (for the trace). */
    readonly owner: string,
  ) {}

  /** eventfd_signal(): count += 1 and wake the readers. */
  signal(): void {
    this.count += 1n;
    this.signals++;
    this.sim.trace.emit('host.eventfd.signal', { owner: this.owner, count: Number(this.count) });
    this.wq.wakeAll(this.sim.sched);
  }

  *ioctl(): Task<number> {
    return -ENOTTY;
  }

  /** eventfd_read(): blocks until count > 0; 8 bytes (the count, native endian) and count = 0. */
  *read(_proc: HostProcess, _offset: number, buf: Uint8Array): Task<number> {
    if (buf.length < 8) return -EINVAL;
    while (this.count === 0n) yield* waitOn(this.wq);
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, this.count, true);
    this.count = 0n;
    return 8;
  }

  *release(): Task<void> {}
}

/** eventfd(0, 0) for `proc`: the new fd. */
export function createEventfd(sim: Sim, proc: HostProcess): number {
  return proc.install(new EventFd(sim, proc.name));
}

/** eventfd_ctx_fdget(): the eventfd behind `fd` in `proc`'s table, if it is one. */
export function eventfdOf(proc: HostProcess, fd: number): EventFd | undefined {
  const f = proc.file(fd);
  return f instanceof EventFd ? f : undefined;
}
