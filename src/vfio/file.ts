/**
 * What every VFIO file shares: a reference count (a file can sit in several
 * fd tables after fd passing) and the `vfio.ioctl` trace span around each
 * ioctl.
 */
import type { FileOps, HostProcess, IoctlArg } from '../host/process.js';
import type { Task } from '../sim/scheduler.js';
import { VFIO_DEVICE_SET_ADDR_MAPPING } from '../uapi/experimental.js';
import { formatRequest } from '../uapi/ioctl.js';
import { VFIO_IOCTLS, type VfioFdKind } from '../uapi/vfio.js';
import type { Vfio } from './vfio.js';

export type VfioFileKind = 'vfio-container' | 'vfio-group' | 'vfio-device';

/** Request number -> name, per fd kind, built once (trace fields stay cheap). */
const NAMES: Readonly<Record<VfioFdKind, ReadonlyMap<number, string>>> = (() => {
  const byKind = {} as Record<VfioFdKind, Map<number, string>>;
  for (const kind of Object.keys(VFIO_IOCTLS) as VfioFdKind[]) {
    const m = new Map<number, string>();
    // Later entries win: VFIO_IOMMU_SPAPR_TCE_GET_INFO over VFIO_IOMMU_GET_INFO.
    for (const [name, req] of Object.entries(VFIO_IOCTLS[kind])) m.set(req, name);
    byKind[kind] = m;
  }
  byKind.device.set(VFIO_DEVICE_SET_ADDR_MAPPING, 'VFIO_DEVICE_SET_ADDR_MAPPING(experimental)');
  return byKind;
})();

export function ioctlName(kind: VfioFdKind, request: number): string {
  return NAMES[kind].get(request) ?? formatRequest(request);
}

export abstract class VfioFile implements FileOps {
  abstract readonly kind: VfioFileKind;
  protected abstract readonly fdKind: VfioFdKind;
  /** References to the open file (struct file f_count). */
  refs = 1;

  constructor(protected readonly vfio: Vfio) {}

  /** get_file(): one more fd refers to this file. */
  get(): void {
    this.refs++;
  }

  *ioctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number> {
    const trace = this.vfio.sim.trace;
    const tok = trace.begin('vfio.ioctl', {
      fd: this.kind,
      ioctl: ioctlName(this.fdKind, request),
    });
    const rc = yield* this.doIoctl(proc, request, arg);
    trace.end(tok, { rc });
    return rc;
  }

  *release(proc: HostProcess): Task<void> {
    if (--this.refs > 0) return;
    yield* this.doRelease(proc);
  }

  protected abstract doIoctl(proc: HostProcess, request: number, arg: IoctlArg): Task<number>;
  protected abstract doRelease(proc: HostProcess): Task<void>;
}
