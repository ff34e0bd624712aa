import { describe, expect, it } from 'vitest';
import {
  EBUSY,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOTTY,
  ENXIO,
  EPERM,
} from '../../src/uapi/errno.js';
import {
  VFIO_DMA_MAP_FLAG_READ as R,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DEVICE_GET_INFO,
  VFIO_EEH,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_DISABLE,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_SPAPR_INFO_DDW,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
  VFIO_IOMMU_SPAPR_TCE_CREATE,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO,
  VFIO_IOMMU_SPAPR_TCE_REMOVE,
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_iommu_spapr_tce_info,
  VFIO_DMA_MAP_FLAG_WRITE as W,
} from '../../src/uapi/vfio.js';
import { decode, encode } from './encode.js';
import { hostState, makeHost, ready, s32, User } from './fake_backend.js';

const MEM = 0x1_0000_0000; // the 1 MiB ready() gives the process

describe('container: /dev/vfio/vfio without an IOMMU', () => {
  it('reports the API version and the sPAPR extensions', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    expect(c).toBeGreaterThanOrEqual(3);
    expect(u.ioctl(c, VFIO_GET_API_VERSION)).toBe(VFIO_API_VERSION);
    expect(u.ioctl(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU)).toBe(1);
    expect(u.ioctl(c, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU)).toBe(1);
    for (const ext of [VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU, 0, 99]) {
      expect(u.ioctl(c, VFIO_CHECK_EXTENSION, ext)).toBe(0);
    }
    // A pointer is no extension number.
    expect(u.ioctl(c, VFIO_CHECK_EXTENSION, s32(VFIO_EEH))).toBe(0);
  });

  it('CHECK_EXTENSION(VFIO_EEH) follows the host EEH flag, with or without an IOMMU', () => {
    const h = makeHost();
    const { u, container } = ready(h);
    const c2 = u.open('/dev/vfio/vfio');
    expect(u.ioctl(container, VFIO_CHECK_EXTENSION, VFIO_EEH)).toBe(1);
    expect(u.ioctl(c2, VFIO_CHECK_EXTENSION, VFIO_EEH)).toBe(1);
    h.backend.eehOn = false;
    expect(u.ioctl(container, VFIO_CHECK_EXTENSION, VFIO_EEH)).toBe(0);
    expect(u.ioctl(c2, VFIO_CHECK_EXTENSION, VFIO_EEH)).toBe(0);
  });

  it('SET_IOMMU needs a group; other requests are -EINVAL until then', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(-EINVAL);
    // container.c: unknown or driver ioctls without a driver -> -EINVAL, not -ENOTTY
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(-EINVAL);
    expect(u.ioctl(c, 0x1234)).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_DEVICE_GET_INFO, encode.deviceInfo())).toBe(-EINVAL);
  });

  it('SET_IOMMU: unknown type -ENODEV, VFIO_EEH (a known extension, not a type) -EINVAL, once only', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g = u.open('/dev/vfio/1');
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)).toBe(-ENODEV);
    expect(u.ioctl(c, VFIO_SET_IOMMU, s32(VFIO_SPAPR_TCE_IOMMU))).toBe(-ENODEV);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_EEH)).toBe(-EINVAL);
    h.backend.eehOn = false;
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_EEH)).toBe(-ENODEV);
    expect(h.vfio.snapshot().containers[0]?.iommu).toBeNull();
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(0);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU)).toBe(-EINVAL);
    // With a driver, unknown requests reach it: -ENOTTY.
    expect(u.ioctl(c, 0x1234)).toBe(-ENOTTY);
  });

  it('v1 takes one group only: a second group is -EBUSY, at SET_IOMMU or at SET_CONTAINER', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g1 = u.open('/dev/vfio/1');
    const g2 = u.open('/dev/vfio/2');
    expect(u.ioctl(g1, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect(u.ioctl(g2, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    const before = hostState(h);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(-EBUSY);
    expect(hostState(h)).toEqual(before);
    // v2 takes both.
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU)).toBe(0);

    const c2 = u.open('/dev/vfio/vfio');
    const g3 = u.open('/dev/vfio/3');
    const g4 = u.open('/dev/vfio/4');
    expect(u.ioctl(g3, VFIO_GROUP_SET_CONTAINER, s32(c2))).toBe(0);
    expect(u.ioctl(c2, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(0);
    expect(u.ioctl(g4, VFIO_GROUP_SET_CONTAINER, s32(c2))).toBe(-EBUSY);
  });

  it('v2 refuses a group without dynamic DMA windows', () => {
    const h = makeHost();
    h.group(1).info = { ...h.group(1).info, maxDynamicWindows: 0 };
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g = u.open('/dev/vfio/1');
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU)).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(0);
  });
});

describe('container: sPAPR TCE IOMMU v1', () => {
  function v1() {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g = u.open('/dev/vfio/1');
    u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c));
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(0);
    u.addMemory(MEM, 0x10_0000);
    return { h, u, c, g };
  }

  it('SPAPR_TCE_GET_INFO: the 32-bit window; DDW only for v2; argsz and short buffers', () => {
    const { h, u, c } = v1();
    const b = encode.tceInfo();
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, b)).toBe(0);
    const info = decode(vfio_iommu_spapr_tce_info, b);
    expect(info).toMatchObject({ argsz: 32, flags: 0, dma32_window_start: 0 });
    expect(info.dma32_window_size).toBe(0x1000_0000);
    expect(info.ddw.pgsizes).toBe(0n);
    // argsz 16: only the first 16 bytes are written back.
    const small = encode.tceInfo({ argsz: 16 }, 16);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, small)).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, encode.tceInfo({ argsz: 15 }))).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, new ArrayBuffer(15))).toBe(-EFAULT);
    // argsz says 32 but only 16 bytes of memory: copy_to_user faults.
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, encode.tceInfo({ argsz: 32 }, 16))).toBe(
      -EFAULT,
    );
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, 0)).toBe(-EFAULT);
    expect(h.backend.groups[0]?.calls).toEqual([]);
  });

  it('IOMMU_ENABLE once (-EBUSY), DISABLE always 0; v1 has no REGISTER_MEMORY / TCE_CREATE', () => {
    const { u, c } = v1();
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(-EBUSY);
    expect(u.ioctl(c, VFIO_IOMMU_DISABLE)).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_DISABLE)).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, encode.registerMemory({}))).toBe(-ENOTTY);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, encode.registerMemory({}))).toBe(-ENOTTY);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, encode.tceCreate({}))).toBe(-ENOTTY);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, encode.tceRemove({}))).toBe(-ENOTTY);
  });

  it('IOMMU_ENABLE: -EPERM for a group without a 32-bit window', () => {
    const h = makeHost();
    h.group(1).info = { ...h.group(1).info, size: 0 };
    const { u, c } = (() => {
      const u = new User(h);
      const c = u.open('/dev/vfio/vfio');
      const g = u.open('/dev/vfio/1');
      u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c));
      u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU);
      return { u, c };
    })();
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(-EPERM);
  });

  it('MAP_DMA / UNMAP_DMA program the group TCE table', () => {
    const { h, u, c } = v1();
    const map = encode.map({ flags: R | W, vaddr: MEM, iova: 0x2000, size: 0x3000 });
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, map)).toBe(-EPERM); // not enabled
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, map)).toBe(0);
    const tces = h.group(1).tces;
    expect([...tces]).toEqual([
      [2, '100000000/3'],
      [3, '100001000/3'],
      [4, '100002000/3'],
    ]);
    // read-only: TCE_PCI_READ
    expect(
      u.ioctl(c, VFIO_IOMMU_MAP_DMA, encode.map({ flags: R, vaddr: MEM, iova: 0, size: 0x1000 })),
    ).toBe(0);
    expect(tces.get(0)).toBe('100000000/1');
    expect(
      u.ioctl(
        c,
        VFIO_IOMMU_MAP_DMA,
        encode.map({ flags: W, vaddr: MEM, iova: 0x1000, size: 0x1000 }),
      ),
    ).toBe(0);
    expect(tces.get(1)).toBe('100000000/2');
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ iova: 0x1000, size: 0x2000 }))).toBe(0);
    expect([...tces.keys()]).toEqual([3, 4, 0]);
    expect(h.vfio.snapshot().containers[0]?.iommu?.entries).toEqual([
      [0, MEM, 1],
      [3, MEM + 0x1000, 3],
      [4, MEM + 0x2000, 3],
    ]);
  });

  it('MAP_DMA rejects, without touching the table: argsz, flags, alignment, window, direction, foreign memory', () => {
    const { h, u, c } = v1();
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    const ok = { flags: R | W, vaddr: MEM, iova: 0, size: 0x1000 };
    const cases: Array<[ArrayBuffer | number, number]> = [
      [0, -EFAULT],
      [new ArrayBuffer(31), -EFAULT],
      [encode.map({ ...ok, argsz: 31 }), -EINVAL],
      [encode.map({ ...ok, flags: 4 }), -EINVAL], // VFIO_DMA_MAP_FLAG_VADDR
      [encode.map({ ...ok, flags: 0 }), -EINVAL],
      [encode.map({ ...ok, iova: 0x1000_0000 }), -ENXIO], // outside the window
      [encode.map({ ...ok, iova: 0x800 }), -EINVAL], // unaligned iova
      [encode.map({ ...ok, size: 0x800 }), -EINVAL],
      [encode.map({ ...ok, vaddr: MEM + 0x800 }), -EINVAL],
      [encode.map({ ...ok, iova: 0x0fff_f000, size: 0x2000 }), -EINVAL], // crosses the window end
      [encode.map({ ...ok, vaddr: MEM + 0xf_f000, size: 0x2000 }), -EFAULT], // beyond its memory
      [encode.map({ ...ok, vaddr: 0x2_0000_0000 }), -EFAULT], // not the caller's memory
      [encode.map({ ...ok, vaddr: 2n ** 63n }), -EFAULT],
    ];
    const before = hostState(h);
    for (const [arg, rc] of cases) expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, arg)).toBe(rc);
    expect(hostState(h).tces).toEqual(before.tces);
    expect(hostState(h).vfio.containers[0]?.iommu?.entries).toEqual([]);
    // size 0 maps nothing and succeeds.
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, encode.map({ ...ok, size: 0 }))).toBe(0);
  });

  it("MAP_DMA: another process's memory is -EFAULT even when the container is shared", () => {
    const { h, u, c } = v1();
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    const other = new User(h, 200);
    other.addMemory(0x3_0000_0000, 0x1000);
    const map = encode.map({ flags: R, vaddr: 0x3_0000_0000, iova: 0, size: 0x1000 });
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, map)).toBe(-EFAULT);
    // ... and the other process cannot use the container at all once its mm is bound.
    const fd = h.vfio.passFd(u.proc, c, other.proc);
    expect(other.ioctl(fd, VFIO_IOMMU_MAP_DMA, map)).toBe(-EPERM);
    expect(other.ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU)).toBe(1);
    expect(other.ioctl(fd, VFIO_GET_API_VERSION)).toBe(0);
  });

  it('UNMAP_DMA rejects: argsz, any flag, alignment, window', () => {
    const { u, c } = v1();
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ iova: 0, size: 0x1000 }))).toBe(-EPERM);
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, new ArrayBuffer(23))).toBe(-EFAULT);
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ argsz: 23, size: 0x1000 }))).toBe(
      -EINVAL,
    );
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ flags: 2, size: 0x1000 }))).toBe(
      -EINVAL,
    );
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ iova: 0x1000_0000, size: 0 }))).toBe(
      -ENXIO,
    );
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ size: 0x10 }))).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ iova: 0x10, size: 0x1000 }))).toBe(
      -EINVAL,
    );
    expect(
      u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ iova: 0x0fff_f000, size: 0x2000 })),
    ).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ iova: 0, size: 0x1000_0000 }))).toBe(0);
  });

  it('a platform failure of the TCE write is returned and leaves the table unchanged', () => {
    const { h, u, c } = v1();
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    h.group(1).mapRc = -5;
    expect(
      u.ioctl(c, VFIO_IOMMU_MAP_DMA, encode.map({ flags: R, vaddr: MEM, iova: 0, size: 0x1000 })),
    ).toBe(-5);
    expect(h.vfio.snapshot().containers[0]?.iommu?.entries).toEqual([]);
  });

  it('the last group leaving the container clears its TCEs and drops the IOMMU', () => {
    const { h, u, c, g } = v1();
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    u.ioctl(c, VFIO_IOMMU_MAP_DMA, encode.map({ flags: R, vaddr: MEM, iova: 0, size: 0x2000 }));
    expect(h.group(1).tces.size).toBe(2);
    expect(u.close(g)).toBe(0);
    expect(h.group(1).tces.size).toBe(0);
    expect(h.vfio.snapshot().containers[0]).toMatchObject({ groups: [], iommu: null });
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(-EINVAL);
    // The container can take a group and an IOMMU again.
    const g2 = u.open('/dev/vfio/1');
    expect(u.ioctl(g2, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU)).toBe(0);
  });
});

describe('container: sPAPR TCE IOMMU v2', () => {
  it('GET_INFO reports DDW; ENABLE/DISABLE are v1 only', () => {
    const h = makeHost();
    const { u, container: c } = ready(h, { type: 'v2' });
    const b = encode.tceInfo();
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_GET_INFO, b)).toBe(0);
    const info = decode(vfio_iommu_spapr_tce_info, b);
    expect(info.flags).toBe(VFIO_IOMMU_SPAPR_INFO_DDW);
    expect(info.ddw).toEqual({
      pgsizes: (1n << 12n) | (1n << 16n) | (1n << 24n),
      max_dynamic_windows_supported: 1,
      levels: 5,
    });
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(-ENOTTY);
    expect(u.ioctl(c, VFIO_IOMMU_DISABLE)).toBe(-ENOTTY);
  });

  it('REGISTER_MEMORY: checks, then MAP_DMA needs registered memory (-EINVAL otherwise)', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g = u.open('/dev/vfio/1');
    u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c));
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU)).toBe(0);
    u.addMemory(MEM, 0x10_0000);
    const map = encode.map({ flags: R | W, vaddr: MEM, iova: 0, size: 0x2000 });
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, map)).toBe(-EPERM); // nothing registered: not enabled
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, encode.registerMemory({}))).toBe(-EPERM);
    const reg = (v: Parameters<typeof encode.registerMemory>[0], len?: number) =>
      u.ioctl(c, VFIO_IOMMU_SPAPR_REGISTER_MEMORY, encode.registerMemory(v, len));
    expect(reg({ vaddr: MEM, size: 0x1000 }, 23)).toBe(-EFAULT);
    expect(reg({ argsz: 23, vaddr: MEM, size: 0x1000 })).toBe(-EINVAL);
    expect(reg({ flags: 1, vaddr: MEM, size: 0x1000 })).toBe(-EINVAL);
    expect(reg({ vaddr: MEM + 1, size: 0x1000 })).toBe(-EINVAL);
    expect(reg({ vaddr: MEM, size: 0x1001 })).toBe(-EINVAL);
    expect(reg({ vaddr: 0x2_0000_0000, size: 0x1000 })).toBe(-EFAULT);
    expect(reg({ vaddr: MEM, size: 0x1000 })).toBe(0);
    expect(reg({ vaddr: MEM, size: 0x1000 })).toBe(-EBUSY);
    expect(reg({ vaddr: MEM, size: 0x2000 })).toBe(-EINVAL); // overlaps
    // The second page is not registered.
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, map)).toBe(-EINVAL);
    expect(reg({ vaddr: MEM + 0x1000, size: 0x1000 })).toBe(0);
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, map)).toBe(0);
    expect(h.group(1).tces.size).toBe(2);
    const unreg = (v: Parameters<typeof encode.registerMemory>[0]) =>
      u.ioctl(c, VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, encode.registerMemory(v));
    expect(unreg({ vaddr: MEM, size: 0x1000 })).toBe(-EBUSY); // still mapped
    expect(unreg({ vaddr: MEM, size: 0x3000 })).toBe(-ENOENT);
    expect(u.ioctl(c, VFIO_IOMMU_UNMAP_DMA, encode.unmap({ iova: 0, size: 0x1000 }))).toBe(0);
    expect(unreg({ vaddr: MEM, size: 0x1000 })).toBe(0);
  });

  it('two groups share the table: maps reach both, a late group gets the existing ones', () => {
    const h = makeHost();
    const { u, container: c } = ready(h, { type: 'v2', groups: [1, 2] });
    const map = encode.map({ flags: R, vaddr: MEM, iova: 0x4000, size: 0x2000 });
    expect(u.ioctl(c, VFIO_IOMMU_MAP_DMA, map)).toBe(0);
    expect(h.group(1).tces.size).toBe(2);
    expect(h.group(2).tces.size).toBe(2);
    const g3 = u.open('/dev/vfio/3');
    expect(u.ioctl(g3, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect([...h.group(3).tces]).toEqual([...h.group(1).tces]);
    // A group leaving clears the shared table (tce_iommu_release_ownership).
    expect(u.close(g3)).toBe(0);
    expect(h.group(1).tces.size + h.group(2).tces.size + h.group(3).tces.size).toBe(0);
  });

  it('TCE_CREATE (no dynamic windows in the model) and TCE_REMOVE of the default window', () => {
    const h = makeHost();
    const { u, container: c } = ready(h, { type: 'v2' });
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, new ArrayBuffer(39))).toBe(-EFAULT);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, encode.tceCreate({ argsz: 39 }))).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, encode.tceCreate({ flags: 1 }))).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, encode.tceCreate({ page_shift: 13 }))).toBe(
      -EINVAL,
    );
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_CREATE, encode.tceCreate({ page_shift: 16 }))).toBe(
      -EPERM,
    );
    // TCE_CREATE created the pending default window first.
    expect(h.vfio.snapshot().containers[0]?.iommu?.tables[0]).toEqual({
      start: 0,
      size: 0x1000_0000,
      pageShift: 12,
    });
    expect(
      u.ioctl(c, VFIO_IOMMU_MAP_DMA, encode.map({ flags: R, vaddr: MEM, iova: 0, size: 0x1000 })),
    ).toBe(0);
    expect(
      u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, encode.tceRemove({ start_addr: 0x1000_0000 })),
    ).toBe(-EINVAL);
    expect(u.ioctl(c, VFIO_IOMMU_SPAPR_TCE_REMOVE, encode.tceRemove({ start_addr: 0 }))).toBe(0);
    expect(h.group(1).tces.size).toBe(0);
    expect(
      u.ioctl(c, VFIO_IOMMU_MAP_DMA, encode.map({ flags: R, vaddr: MEM, iova: 0, size: 0x1000 })),
    ).toBe(-ENXIO);
  });
});
