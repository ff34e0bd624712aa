/**
 * The VMM side of VFIO (cf. QEMU hw/vfio/container.c, spapr.c, pci.c,
 * helpers.c): every call is open / ioctl / pread / pwrite / mmap / close on
 * the VMM's own fds through the host's syscall layer, with the argument
 * encoded by the uapi codecs - exactly what QEMU hands to ioctl(2).
 */
import type { HostProcess, IoctlArg, Syscalls } from '../host/process.js';
import type { Task } from '../sim/scheduler.js';
import type { StructValue } from '../uapi/codec.js';
import {
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_EEH_PE_OP,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  vfio_device_info,
  vfio_eeh_pe_op,
  vfio_group_status,
  vfio_iommu_spapr_register_memory,
  vfio_iommu_spapr_tce_info,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_irq_info,
  vfio_irq_set,
  vfio_region_info,
} from '../uapi/vfio.js';

export type Result<T> =
  | { readonly rc: 0; readonly value: T }
  | { readonly rc: number; readonly value?: undefined };

export interface EehErr {
  readonly type: number;
  readonly func: number;
  readonly addr: bigint;
  readonly mask: bigint;
}

export class VfioUser {
  constructor(
    private readonly sys: Syscalls,
    private readonly proc: HostProcess,
  ) {}

  *open(path: string): Task<number> {
    return yield* this.sys.open(this.proc, path);
  }

  *close(fd: number): Task<number> {
    return yield* this.sys.close(this.proc, fd);
  }

  *ioctl(fd: number, request: number, arg: IoctlArg): Task<number> {
    return yield* this.sys.ioctl(this.proc, fd, request, arg);
  }

  /** VFIO_GROUP_GET_STATUS: the flags. */
  *groupStatus(groupFd: number): Task<Result<number>> {
    const buf = vfio_group_status.encode({ argsz: vfio_group_status.size });
    const rc = yield* this.ioctl(groupFd, VFIO_GROUP_GET_STATUS, buf);
    if (rc) return { rc };
    return { rc: 0, value: vfio_group_status.get(buf, 0, 'flags') as number };
  }

  /** VFIO_GROUP_SET_CONTAINER: the argument points to the container fd (an int). */
  *setContainer(groupFd: number, containerFd: number): Task<number> {
    const buf = new ArrayBuffer(4);
    new DataView(buf).setInt32(0, containerFd, true);
    return yield* this.ioctl(groupFd, VFIO_GROUP_SET_CONTAINER, buf);
  }

  /** VFIO_GROUP_GET_DEVICE_FD with a NUL-terminated device name. */
  *getDeviceFd(groupFd: number, name: string): Task<number> {
    const b = new Uint8Array(name.length + 1);
    for (let i = 0; i < name.length; i++) b[i] = name.charCodeAt(i) & 0xff;
    return yield* this.ioctl(groupFd, VFIO_GROUP_GET_DEVICE_FD, b.buffer);
  }

  *deviceInfo(fd: number): Task<Result<StructValue<typeof vfio_device_info.fields>>> {
    const buf = vfio_device_info.encode({ argsz: vfio_device_info.size });
    const rc = yield* this.ioctl(fd, VFIO_DEVICE_GET_INFO, buf);
    const d = vfio_device_info.decode(buf);
    return rc === 0 && d.ok ? { rc: 0, value: d.value } : { rc: rc || -14 };
  }

  *regionInfo(
    fd: number,
    index: number,
  ): Task<Result<StructValue<typeof vfio_region_info.fields>>> {
    const buf = vfio_region_info.encode({ argsz: vfio_region_info.size, index });
    const rc = yield* this.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, buf);
    const d = vfio_region_info.decode(buf);
    return rc === 0 && d.ok ? { rc: 0, value: d.value } : { rc: rc || -14 };
  }

  *irqInfo(fd: number, index: number): Task<Result<StructValue<typeof vfio_irq_info.fields>>> {
    const buf = vfio_irq_info.encode({ argsz: vfio_irq_info.size, index });
    const rc = yield* this.ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, buf);
    const d = vfio_irq_info.decode(buf);
    return rc === 0 && d.ok ? { rc: 0, value: d.value } : { rc: rc || -14 };
  }

  /** VFIO_IOMMU_SPAPR_TCE_GET_INFO */
  *tceInfo(
    containerFd: number,
  ): Task<Result<StructValue<typeof vfio_iommu_spapr_tce_info.fields>>> {
    const st = vfio_iommu_spapr_tce_info;
    const buf = st.encode({ argsz: st.size });
    const rc = yield* this.ioctl(containerFd, VFIO_IOMMU_SPAPR_TCE_GET_INFO, buf);
    const d = st.decode(buf);
    return rc === 0 && d.ok ? { rc: 0, value: d.value } : { rc: rc || -14 };
  }

  /** VFIO_IOMMU_SPAPR_REGISTER_MEMORY (v2: QEMU's prereg listener, hw/vfio/spapr.c) */
  *registerMemory(containerFd: number, vaddr: number, size: number): Task<number> {
    const st = vfio_iommu_spapr_register_memory;
    return yield* this.ioctl(
      containerFd,
      VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
      st.encode({ argsz: st.size, flags: 0, vaddr, size }),
    );
  }

  /** VFIO_IOMMU_MAP_DMA (vfio_legacy_dma_map) */
  *mapDma(
    containerFd: number,
    iova: number,
    size: number,
    vaddr: number,
    readonly: boolean,
  ): Task<number> {
    const st = vfio_iommu_type1_dma_map;
    let flags = VFIO_DMA_MAP_FLAG_READ;
    if (!readonly) flags |= VFIO_DMA_MAP_FLAG_WRITE;
    return yield* this.ioctl(
      containerFd,
      VFIO_IOMMU_MAP_DMA,
      st.encode({ argsz: st.size, flags, vaddr, iova, size }),
    );
  }

  /** VFIO_IOMMU_UNMAP_DMA (vfio_legacy_dma_unmap) */
  *unmapDma(containerFd: number, iova: number, size: number): Task<number> {
    const st = vfio_iommu_type1_dma_unmap;
    return yield* this.ioctl(
      containerFd,
      VFIO_IOMMU_UNMAP_DMA,
      st.encode({ argsz: st.size, flags: 0, iova, size }),
    );
  }

  /** VFIO_EEH_PE_OP (QEMU vfio_eeh_container_op: argsz = sizeof, flags 0). */
  *eehPeOp(containerFd: number, op: number, err?: EehErr): Task<number> {
    const st = vfio_eeh_pe_op;
    const buf = st.encode({ argsz: st.size, flags: 0, op, ...(err ? { err } : {}) });
    return yield* this.ioctl(containerFd, VFIO_EEH_PE_OP, buf);
  }

  /** vfio_disable_irqindex(): SET_IRQS DATA_NONE | ACTION_TRIGGER, start 0, count 0. */
  *disableIrqIndex(deviceFd: number, index: number): Task<number> {
    const buf = vfio_irq_set.encode({
      argsz: vfio_irq_set.size,
      flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
      index,
      start: 0,
      count: 0,
    });
    return yield* this.ioctl(deviceFd, VFIO_DEVICE_SET_IRQS, buf);
  }

  /**
   * vfio_enable_msix_no_vec(): enables MSI-X with one vector and eventfd -1
   * (QEMU's vfio_msix_enable before any vector is unmasked).
   */
  *enableMsixNoVec(deviceFd: number, index: number): Task<number> {
    const size = vfio_irq_set.size + 4;
    const buf = new ArrayBuffer(size);
    vfio_irq_set.encodeInto(buf, 0, {
      argsz: size,
      flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
      index,
      start: 0,
      count: 1,
    });
    new DataView(buf).setInt32(vfio_irq_set.size, -1, true);
    return yield* this.ioctl(deviceFd, VFIO_DEVICE_SET_IRQS, buf);
  }

  /** pread() of `size` bytes (little-endian) at `offset`: the value, or -errno. */
  *pread(fd: number, offset: number, size: 1 | 2 | 4): Task<Result<number>> {
    const b = new Uint8Array(size);
    const n = yield* this.sys.pread(this.proc, fd, offset, b);
    if (n !== size) return { rc: n < 0 ? n : -5 };
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (b[i] as number);
    return { rc: 0, value: v };
  }

  /** pread() of a block. */
  *preadBlock(fd: number, offset: number, len: number): Task<Result<Uint8Array>> {
    const b = new Uint8Array(len);
    const n = yield* this.sys.pread(this.proc, fd, offset, b);
    return n === len ? { rc: 0, value: b } : { rc: n < 0 ? n : -5 };
  }

  /** pwrite() of `size` bytes (little-endian): 0 or -errno. */
  *pwrite(fd: number, offset: number, size: 1 | 2 | 4, value: number): Task<number> {
    const b = new Uint8Array(size);
    let v = value >>> 0;
    for (let i = 0; i < size; i++) {
      b[i] = v & 0xff;
      v = Math.floor(v / 256);
    }
    const n = yield* this.sys.pwrite(this.proc, fd, offset, b);
    return n === size ? 0 : n < 0 ? n : -5;
  }

  mmap(fd: number, offset: number, length: number): number {
    return this.sys.mmap(this.proc, fd, offset, length);
  }
}
