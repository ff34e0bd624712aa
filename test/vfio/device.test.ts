import { describe, expect, it } from 'vitest';
import { EBADF, EEXIST, EFAULT, EINVAL, ENODEV, ENOTTY } from '../../src/uapi/errno.js';
import { VFIO_DEVICE_SET_ADDR_MAPPING } from '../../src/uapi/experimental.js';
import { buid } from '../../src/uapi/ids.js';
import {
  VFIO_IRQ_SET_DATA_BOOL as BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD as EVENTFD,
  VFIO_IRQ_SET_DATA_NONE as NONE,
  VFIO_IRQ_SET_ACTION_TRIGGER as TRIGGER,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_EEH_PE_OP,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  vfio_device_info,
  vfio_irq_info,
  vfio_region_info,
} from '../../src/uapi/vfio.js';
import { PowernvAddrMapping } from '../../src/vfio/experimental_addr_mapping.js';
import { decode, encode } from './encode.js';
import { hostState, makeHost, ready } from './fake_backend.js';

const CFG = VFIO_PCI_CONFIG_REGION_INDEX * 2 ** 40;
const RW = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

function withDevice(name = '0000:01:00.0', groups = [1]) {
  const h = makeHost();
  const r = ready(h, { groups, devices: [name] });
  const fd = r.deviceFds[0]!;
  const dev = h.vfio.openDevice(name)!;
  const fn = h.backend.groups.flatMap((g) => g.fns).find((f) => f.name === name)!;
  return { h, ...r, fd, dev, fn };
}

describe('device: info ioctls', () => {
  it('GET_INFO: PCI | RESET, 9 regions, 5 irqs; argsz', () => {
    const { u, fd, fn } = withDevice();
    const b = encode.deviceInfo();
    expect(u.ioctl(fd, VFIO_DEVICE_GET_INFO, b)).toBe(0);
    expect(decode(vfio_device_info, b)).toEqual({
      argsz: 20,
      flags: VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
      num_regions: 9,
      num_irqs: 5,
      cap_offset: 0,
    });
    fn.resetWorks = false;
    const small = encode.deviceInfo({ argsz: 16 }, 16);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_INFO, small)).toBe(0);
    expect(decode(vfio_device_info, small).flags).toBe(VFIO_DEVICE_FLAGS_PCI);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_INFO, encode.deviceInfo({ argsz: 15 }))).toBe(-EINVAL);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_INFO, new ArrayBuffer(15))).toBe(-EFAULT);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_INFO, encode.deviceInfo({ argsz: 20 }, 16))).toBe(-EFAULT);
  });

  it('GET_REGION_INFO: BARs at index << 40, MMAP for memory BARs, config region, no ROM/VGA', () => {
    const { u, fd } = withDevice();
    const region = (index: number) => {
      const b = encode.regionInfo({ index });
      const rc = u.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, b);
      return rc ? rc : decode(vfio_region_info, b);
    };
    expect(region(0)).toMatchObject({
      flags: RW | VFIO_REGION_INFO_FLAG_MMAP,
      size: 0x4000n,
      offset: 0n,
    });
    expect(region(1)).toMatchObject({ flags: 0, size: 0n, offset: 1n << 40n });
    expect(region(2)).toMatchObject({ flags: RW, size: 0x100n, offset: 2n << 40n }); // I/O BAR
    expect(region(6)).toMatchObject({ flags: 0, size: 0n, offset: 6n << 40n }); // ROM
    expect(region(7)).toMatchObject({ flags: RW, size: 4096n, offset: 7n << 40n });
    expect(region(8)).toBe(-EINVAL); // VGA
    expect(region(9)).toBe(-EINVAL);
    expect(region(0xffff_ffff)).toBe(-EINVAL);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, encode.regionInfo({ argsz: 31 }))).toBe(
      -EINVAL,
    );
    expect(u.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, new ArrayBuffer(31))).toBe(-EFAULT);
  });

  it('GET_IRQ_INFO: counts and flags per index; ERR only on PCIe', () => {
    const { u, fd, fn } = withDevice();
    const irq = (index: number) => {
      const b = encode.irqInfo({ index });
      const rc = u.ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, b);
      return rc ? rc : decode(vfio_irq_info, b);
    };
    const E = VFIO_IRQ_INFO_EVENTFD;
    expect(irq(VFIO_PCI_INTX_IRQ_INDEX)).toMatchObject({
      flags: E | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
      count: 1,
    });
    expect(irq(VFIO_PCI_MSI_IRQ_INDEX)).toMatchObject({
      flags: E | VFIO_IRQ_INFO_NORESIZE,
      count: 1,
    });
    expect(irq(VFIO_PCI_MSIX_IRQ_INDEX)).toMatchObject({ count: 8 });
    expect(irq(VFIO_PCI_ERR_IRQ_INDEX)).toMatchObject({
      flags: E | VFIO_IRQ_INFO_NORESIZE,
      count: 1,
    });
    expect(irq(VFIO_PCI_REQ_IRQ_INDEX)).toMatchObject({ count: 1 });
    expect(irq(5)).toBe(-EINVAL);
    fn.isPcie = false;
    expect(irq(VFIO_PCI_ERR_IRQ_INDEX)).toBe(-EINVAL);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, encode.irqInfo({ argsz: 15 }))).toBe(-EINVAL);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, 0)).toBe(-EFAULT);
  });

  it('request numbers mean what the fd kind says: MAP_DMA on a device fd is PCI_HOT_RESET', () => {
    const { u, fd } = withDevice();
    expect(VFIO_IOMMU_MAP_DMA).toBe(VFIO_DEVICE_PCI_HOT_RESET);
    expect(u.ioctl(fd, VFIO_IOMMU_MAP_DMA, encode.map({ flags: 3, size: 0x1000 }))).toBe(-EINVAL);
    const hdr = new Uint32Array([16, 0, 1, 5]).buffer; // one group fd
    expect(u.ioctl(fd, VFIO_DEVICE_PCI_HOT_RESET, hdr)).toBe(-ENODEV);
    expect(u.ioctl(fd, VFIO_DEVICE_PCI_HOT_RESET, new Uint32Array([16, 0, 0]).buffer)).toBe(
      -EINVAL,
    );
    expect(
      u.ioctl(fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, new Uint32Array([12, 0, 0]).buffer),
    ).toBe(-ENODEV);
    expect(
      u.ioctl(fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, new Uint32Array([11, 0, 0]).buffer),
    ).toBe(-EINVAL);
    expect(u.ioctl(fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, new ArrayBuffer(8))).toBe(-EFAULT);
    // Container ioctls and unknown numbers fall to the arch hook: -ENOTTY.
    expect(u.ioctl(fd, VFIO_EEH_PE_OP, encode.peOp({ op: 4 }))).toBe(-ENOTTY);
    expect(u.ioctl(fd, 0xdead)).toBe(-ENOTTY);
  });
});

describe('device: reset, config space, mmap', () => {
  it('RESET calls the host reset; -EINVAL without a reset method', () => {
    const { u, fd, fn } = withDevice();
    expect(u.ioctl(fd, VFIO_DEVICE_RESET)).toBe(0);
    expect(fn.resets).toBe(1);
    fn.resetRc = -EBADF;
    expect(u.ioctl(fd, VFIO_DEVICE_RESET)).toBe(-EBADF);
    fn.resetWorks = false;
    expect(u.ioctl(fd, VFIO_DEVICE_RESET)).toBe(-EINVAL);
    expect(fn.resets).toBe(2);
  });

  it('pread / pwrite of the config region in aligned chunks; bounds -EFAULT; other regions -EINVAL', () => {
    const { u, fd, fn } = withDevice();
    const four = new Uint8Array(4);
    expect(u.pread(fd, CFG, four)).toBe(4);
    expect([...four]).toEqual([0x14, 0x10, 0x01, 0x00]);
    expect(u.pwrite(fd, CFG + 4, new Uint8Array([0x46, 0x01]))).toBe(2);
    expect(fn.configLog).toEqual(['4/2=146']);
    fn.configLog.length = 0;
    // 7 bytes at 0x41: 1 at 0x41, 2 at 0x42, 4 at 0x44
    expect(u.pwrite(fd, CFG + 0x41, new Uint8Array([1, 2, 3, 4, 5, 6, 7]))).toBe(7);
    expect(fn.configLog).toEqual(['65/1=1', '66/2=302', '68/4=7060504']);
    const back = new Uint8Array(7);
    expect(u.pread(fd, CFG + 0x41, back)).toBe(7);
    expect([...back]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(u.pread(fd, CFG + 4094, new Uint8Array(4))).toBe(-EFAULT);
    expect(u.pread(fd, CFG + 4096, new Uint8Array(1))).toBe(-EFAULT);
    expect(u.pread(fd, CFG, new Uint8Array(0))).toBe(0);
    expect(u.pread(fd, 0, new Uint8Array(4))).toBe(-EINVAL); // BAR0: mmap only in the model
    expect(u.pwrite(fd, 6 * 2 ** 40, new Uint8Array(4))).toBe(-EINVAL);
    expect(u.pread(fd, 9 * 2 ** 40, new Uint8Array(4))).toBe(-EINVAL);
    expect(u.pread(fd, -1, new Uint8Array(4))).toBe(-EINVAL);
  });

  it('mmap of a memory BAR gives its host address; other regions and bad ranges -EINVAL', () => {
    const { u, fd, fn } = withDevice();
    const base = fn.bars[0]!.hostAddress;
    expect(u.mmap(fd, 0, 0x4000)).toBe(base);
    expect(u.mmap(fd, 0x1000, 0x1000)).toBe(base + 0x1000);
    expect(u.mmap(fd, 0x3000, 0x800)).toBe(base + 0x3000); // rounds up to a page
    expect(u.mmap(fd, 0, 0x5000)).toBe(-EINVAL);
    expect(u.mmap(fd, 0x800, 0x1000)).toBe(-EINVAL);
    expect(u.mmap(fd, 0, 0)).toBe(-EINVAL);
    expect(u.mmap(fd, 1 * 2 ** 40, 0x1000)).toBe(-EINVAL); // no BAR1
    expect(u.mmap(fd, 2 * 2 ** 40, 0x100)).toBe(-EINVAL); // I/O BAR
    expect(u.mmap(fd, CFG, 0x1000)).toBe(-EINVAL);
    expect(u.mmap(fd, 6 * 2 ** 40, 0x1000)).toBe(-EINVAL);
  });

  it('a device fd reaches only its own function', () => {
    const { h, u, fd } = withDevice('0000:03:00.1', [3]);
    expect(u.pwrite(fd, CFG + 0x40, new Uint8Array([0xaa]))).toBe(1);
    const changed = h.backend.groups.flatMap((g) => g.fns).filter((f) => f.configLog.length);
    expect(changed.map((f) => f.name)).toEqual(['0000:03:00.1']);
  });
});

describe('device: SET_IRQS', () => {
  const set = (
    v: Parameters<typeof encode.irqSet>[0],
    d?: Parameters<typeof encode.irqSet>[1],
    len?: number,
  ) => encode.irqSet(v, d, len);

  it('enables MSI-X with eventfds, updates vectors, disables; MSI is refused meanwhile', () => {
    const { u, fd, dev } = withDevice();
    const X = VFIO_PCI_MSIX_IRQ_INDEX;
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: X, start: 0, count: 2 }, { fds: [10, 11] }),
      ),
    ).toBe(0);
    expect(dev).toMatchObject({ irqType: 'msix', vectors: [10, 11] });
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: X, start: 1, count: 1 }, { fds: [-1] }),
      ),
    ).toBe(0);
    expect(dev.vectors).toEqual([10, null]);
    // beyond the enabled vectors
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: X, start: 2, count: 1 }, { fds: [12] }),
      ),
    ).toBe(-EINVAL);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, count: 1 }, { fds: [5] }),
      ),
    ).toBe(-EINVAL);
    expect(
      u.ioctl(fd, VFIO_DEVICE_SET_IRQS, set({ flags: NONE | TRIGGER, index: X, count: 0 })),
    ).toBe(0);
    expect(dev).toMatchObject({ irqType: 'none', vectors: [] });
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX, count: 1 }, { fds: [5] }),
      ),
    ).toBe(0);
    expect(dev).toMatchObject({ irqType: 'msi', vectors: [5] });
  });

  it('INTx trigger, mask and unmask', () => {
    const { u, fd, dev } = withDevice();
    const I = VFIO_PCI_INTX_IRQ_INDEX;
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: NONE | VFIO_IRQ_SET_ACTION_MASK, index: I, count: 1 }),
      ),
    ).toBe(-EINVAL);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: I, count: 1 }, { fds: [7] }),
      ),
    ).toBe(0);
    expect(dev).toMatchObject({ irqType: 'intx', vectors: [7] });
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: NONE | VFIO_IRQ_SET_ACTION_MASK, index: I, count: 1 }),
      ),
    ).toBe(0);
    expect(dev.intxMasked).toBe(true);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: BOOL | VFIO_IRQ_SET_ACTION_UNMASK, index: I, count: 1 }, { bools: [1] }),
      ),
    ).toBe(0);
    expect(dev.intxMasked).toBe(false);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | VFIO_IRQ_SET_ACTION_MASK, index: I, count: 1 }, { fds: [3] }),
      ),
    ).toBe(-ENOTTY);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: I, count: 1 }, { fds: [-5] }),
      ),
    ).toBe(-EBADF);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: I, count: 1 }, { fds: [-1] }),
      ),
    ).toBe(0);
    expect(dev.irqType).toBe('none');
  });

  it('the ERR eventfd (the x86 AER path): set, signal, loopback, clear', () => {
    const { h, u, fd, dev } = withDevice();
    const E = VFIO_PCI_ERR_IRQ_INDEX;
    expect(dev.signalError()).toBe(false);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: E, count: 1 }, { fds: [42] }),
      ),
    ).toBe(0);
    expect(dev.errTrigger).toBe(42);
    expect(h.vfio.openDevice('0000:01:00.0')?.signalError()).toBe(true);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: BOOL | TRIGGER, index: E, count: 1 }, { bools: [1] }),
      ),
    ).toBe(0);
    expect(dev.errSignals).toBe(2);
    expect(h.sim.trace.count('vfio.err_signal')).toBe(2);
    expect(
      u.ioctl(fd, VFIO_DEVICE_SET_IRQS, set({ flags: NONE | TRIGGER, index: E, count: 0 })),
    ).toBe(0);
    expect(dev.errTrigger).toBeNull();
    expect(
      u.ioctl(fd, VFIO_DEVICE_SET_IRQS, set({ flags: NONE | TRIGGER, index: E, count: 0 })),
    ).toBe(-EINVAL);
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: NONE | VFIO_IRQ_SET_ACTION_MASK, index: E, count: 1 }),
      ),
    ).toBe(-ENOTTY);
    // REQ likewise
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_IRQS,
        set({ flags: EVENTFD | TRIGGER, index: VFIO_PCI_REQ_IRQ_INDEX, count: 1 }, { fds: [9] }),
      ),
    ).toBe(0);
    expect(dev.reqTrigger).toBe(9);
    // Closing the device drops the triggers.
    u.ioctl(
      fd,
      VFIO_DEVICE_SET_IRQS,
      set({ flags: EVENTFD | TRIGGER, index: E, count: 1 }, { fds: [42] }),
    );
    expect(u.close(fd)).toBe(0);
    expect(dev).toMatchObject({
      errTrigger: null,
      reqTrigger: null,
      irqType: 'none',
      openCount: 0,
    });
  });

  it('validation: argsz, index, start/count, data type, data size, short buffers', () => {
    const { h, u, fd } = withDevice();
    const X = VFIO_PCI_MSIX_IRQ_INDEX;
    const before = hostState(h);
    const cases: Array<[ArrayBuffer | number, number]> = [
      [0, -EFAULT],
      [new ArrayBuffer(19), -EFAULT],
      [set({ argsz: 19, flags: NONE | TRIGGER, index: X }), -EINVAL],
      [set({ flags: NONE | TRIGGER, index: 5 }), -EINVAL],
      [set({ flags: NONE | TRIGGER | 0x40, index: X }), -EINVAL],
      [set({ flags: EVENTFD | TRIGGER, index: X, start: 8, count: 0 }), -EINVAL],
      [set({ flags: EVENTFD | TRIGGER, index: X, start: 7, count: 2 }, { fds: [1, 2] }), -EINVAL],
      [set({ flags: EVENTFD | TRIGGER, index: X, start: 1, count: 0xffff_fffe }), -EINVAL],
      [set({ flags: NONE | BOOL | TRIGGER, index: X, count: 1 }), -EINVAL],
      [set({ flags: EVENTFD | TRIGGER, index: X, count: 2 }, { fds: [1] }), -EINVAL], // argsz
      [set({ argsz: 28, flags: EVENTFD | TRIGGER, index: X, count: 2 }, { fds: [1] }), -EFAULT],
      [set({ flags: NONE | TRIGGER | VFIO_IRQ_SET_ACTION_MASK, index: X, count: 1 }), -ENOTTY],
      [set({ flags: NONE | VFIO_IRQ_SET_ACTION_MASK, index: X, count: 1 }), -ENOTTY],
      [set({ flags: NONE | TRIGGER, index: X, count: 1 }), -EINVAL], // MSI-X not enabled
    ];
    for (const [arg, rc] of cases) expect(u.ioctl(fd, VFIO_DEVICE_SET_IRQS, arg)).toBe(rc);
    expect(hostState(h)).toEqual(before);
  });
});

describe('device: arch hook and the EXPERIMENTAL VFIO_DEVICE_SET_ADDR_MAPPING', () => {
  const map = (v: Parameters<typeof encode.addrMapping>[0], len?: number) =>
    encode.addrMapping(v, len);

  it('is -ENOTTY with the default hook', () => {
    const { u, fd } = withDevice();
    expect(
      u.ioctl(
        fd,
        VFIO_DEVICE_SET_ADDR_MAPPING,
        map({ buid: 0x800000020000000n, config_addr: 0x100 }),
      ),
    ).toBe(-ENOTTY);
  });

  it('the powernv override records (BUID, config address) -> PE, per device', () => {
    const h = makeHost();
    const arch = new PowernvAddrMapping(h.sim);
    h.vfio.setPciArch(arch);
    const { u, deviceFds } = ready(h, {
      groups: [1, 3, 4],
      type: 'v2',
      devices: ['0000:01:00.0', '0000:03:00.0', '0000:04:00.0'],
    });
    const [d1, d3, d4] = deviceFds as [number, number, number];
    const B = 0x800000020000000n;
    expect(u.ioctl(d1, VFIO_DEVICE_SET_ADDR_MAPPING, map({ buid: B, config_addr: 0x1_0000 }))).toBe(
      0,
    );
    expect(arch.lookup(buid(B), 0x1_0000)?.pe).toBe(h.pes[0]);
    expect(arch.lookup(buid(B), 0x1_0000)?.device).toBe('0000:01:00.0');
    // checks
    expect(u.ioctl(d3, VFIO_DEVICE_SET_ADDR_MAPPING, map({ buid: B, config_addr: 0x1_0000 }))).toBe(
      -EEXIST,
    );
    expect(
      u.ioctl(d3, VFIO_DEVICE_SET_ADDR_MAPPING, map({ argsz: 19, buid: B, config_addr: 0x2_0000 })),
    ).toBe(-EINVAL);
    expect(
      u.ioctl(d3, VFIO_DEVICE_SET_ADDR_MAPPING, map({ flags: 1, buid: B, config_addr: 0x2_0000 })),
    ).toBe(-EINVAL);
    expect(u.ioctl(d3, VFIO_DEVICE_SET_ADDR_MAPPING, map({ buid: B, config_addr: 0x2_0001 }))).toBe(
      -EINVAL,
    );
    expect(
      u.ioctl(d3, VFIO_DEVICE_SET_ADDR_MAPPING, map({ buid: B, config_addr: 0x2_0000 }, 19)),
    ).toBe(-EFAULT);
    expect(u.ioctl(d4, VFIO_DEVICE_SET_ADDR_MAPPING, map({ buid: B, config_addr: 0x4_0000 }))).toBe(
      -ENODEV,
    );
    expect(arch.entries()).toHaveLength(1);
    // A device's mapping is replaced, and dropped with its last close.
    expect(u.ioctl(d1, VFIO_DEVICE_SET_ADDR_MAPPING, map({ buid: B, config_addr: 0x1_0800 }))).toBe(
      0,
    );
    expect(arch.lookup(buid(B), 0x1_0000)).toBeUndefined();
    expect(arch.lookup(buid(B), 0x1_0800)?.pe).toBe(h.pes[0]);
    expect(u.ioctl(d3, VFIO_DEVICE_SET_ADDR_MAPPING, map({ buid: B, config_addr: 0x3_0000 }))).toBe(
      0,
    );
    expect(u.close(d1)).toBe(0);
    expect(arch.entries().map((e) => e.device)).toEqual(['0000:03:00.0']);
    // Other unknown requests stay -ENOTTY.
    expect(u.ioctl(d3, 0xbeef)).toBe(-ENOTTY);
    expect(h.sim.trace.count('vfio.experimental.addr_mapping')).toBe(3);
  });
});
