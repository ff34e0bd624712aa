/**
 * User buffers for VFIO ioctls in tests: the struct encoded with the uapi
 * codec, `argsz` defaulting to sizeof, optionally truncated or padded (a
 * shorter buffer is user memory that ends early).
 */
import type { Fields, Struct, StructInput } from '../../src/uapi/codec.js';
import {
  vfio_device_addr_mapping,
  vfio_device_info,
  vfio_eeh_pe_op,
  vfio_group_status,
  vfio_iommu_spapr_register_memory,
  vfio_iommu_spapr_tce_create,
  vfio_iommu_spapr_tce_info,
  vfio_iommu_spapr_tce_remove,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_irq_info,
  vfio_irq_set,
  vfio_region_info,
} from '../../src/uapi/vfio.js';

/** `length`: bytes of user memory (default sizeof); extra bytes are zero. */
export function buf<Fs extends Fields>(
  st: Struct<Fs>,
  value: StructInput<Fs>,
  length: number = st.size,
): ArrayBuffer {
  const full = st.encode({ argsz: st.size, ...value } as StructInput<Fs>);
  const out = new Uint8Array(length);
  out.set(new Uint8Array(full, 0, Math.min(length, st.size)));
  return out.buffer;
}

type In<S> = S extends Struct<infer F> ? StructInput<F> : never;

export const encode = {
  peOp: (v: In<typeof vfio_eeh_pe_op>, length?: number) => buf(vfio_eeh_pe_op, v, length),
  groupStatus: (v: In<typeof vfio_group_status> = {}, length?: number) =>
    buf(vfio_group_status, v, length),
  tceInfo: (v: In<typeof vfio_iommu_spapr_tce_info> = {}, length?: number) =>
    buf(vfio_iommu_spapr_tce_info, v, length),
  map: (v: In<typeof vfio_iommu_type1_dma_map>, length?: number) =>
    buf(vfio_iommu_type1_dma_map, v, length),
  unmap: (v: In<typeof vfio_iommu_type1_dma_unmap>, length?: number) =>
    buf(vfio_iommu_type1_dma_unmap, v, length),
  registerMemory: (v: In<typeof vfio_iommu_spapr_register_memory>, length?: number) =>
    buf(vfio_iommu_spapr_register_memory, v, length),
  tceCreate: (v: In<typeof vfio_iommu_spapr_tce_create>, length?: number) =>
    buf(vfio_iommu_spapr_tce_create, v, length),
  tceRemove: (v: In<typeof vfio_iommu_spapr_tce_remove>, length?: number) =>
    buf(vfio_iommu_spapr_tce_remove, v, length),
  deviceInfo: (v: In<typeof vfio_device_info> = {}, length?: number) =>
    buf(vfio_device_info, v, length),
  regionInfo: (v: In<typeof vfio_region_info>, length?: number) => buf(vfio_region_info, v, length),
  irqInfo: (v: In<typeof vfio_irq_info>, length?: number) => buf(vfio_irq_info, v, length),
  addrMapping: (v: In<typeof vfio_device_addr_mapping>, length?: number) =>
    buf(vfio_device_addr_mapping, v, length),
  /** vfio_irq_set header + data (u8 bools or s32 eventfds); argsz covers the data. */
  irqSet(
    v: In<typeof vfio_irq_set>,
    data: { bools?: number[]; fds?: number[] } = {},
    length?: number,
  ): ArrayBuffer {
    const payload = data.fds ? data.fds.length * 4 : (data.bools?.length ?? 0);
    const size = vfio_irq_set.size + payload;
    const b = new ArrayBuffer(length ?? size);
    const full = new ArrayBuffer(size);
    vfio_irq_set.encodeInto(full, 0, { argsz: size, ...v });
    const dv = new DataView(full);
    data.fds?.forEach((fd, i) => {
      dv.setInt32(vfio_irq_set.size + i * 4, fd, true);
    });
    data.bools?.forEach((x, i) => {
      dv.setUint8(vfio_irq_set.size + i, x);
    });
    new Uint8Array(b).set(new Uint8Array(full, 0, Math.min(size, b.byteLength)));
    return b;
  },
};

/** Reads a struct back from a user buffer after the ioctl. */
export function decode<Fs extends Fields>(st: Struct<Fs>, b: ArrayBuffer) {
  const r = st.decode(b, 0, Math.min(st.size, b.byteLength));
  if (!r.ok) throw new Error(`decode ${st.name}`);
  return r.value;
}
