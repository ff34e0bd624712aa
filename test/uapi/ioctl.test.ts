import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as experimental from '../../src/uapi/experimental.js';
import {
  _IO,
  _IOR,
  _IOW,
  _IOWR,
  decodeIoc,
  formatRequest,
  generic,
  IOC_GENERIC,
  IOC_POWERPC,
  type IocDir,
  ioc,
  MODEL_IOC,
  powerpc,
  reencode,
  toPowerpc,
} from '../../src/uapi/ioctl.js';
import * as kvm from '../../src/uapi/kvm.js';
import * as vfio from '../../src/uapi/vfio.js';

describe('_IOC encodings', () => {
  it('the model uses the generic encoding', () => {
    expect(MODEL_IOC).toBe(IOC_GENERIC);
    expect(_IO).toBe(generic._IO);
  });

  it('VFIO_EEH_PE_OP is 0x3B79 (generic) and 0x20003B79 (powerpc)', () => {
    expect(vfio.VFIO_EEH_PE_OP).toBe(0x3b79);
    expect(powerpc._IO(';', 121)).toBe(0x20003b79);
    expect(toPowerpc(vfio.VFIO_EEH_PE_OP)).toBe(0x20003b79);
    expect(formatRequest(vfio.VFIO_EEH_PE_OP)).toBe('0x3B79');
  });

  it('KVM request numbers in both encodings', () => {
    // _IOWR: READ|WRITE is 3 << 30 generic, 6 << 29 powerpc - the same bits.
    expect(kvm.KVM_CREATE_DEVICE).toBe(0xc00caee0);
    expect(toPowerpc(kvm.KVM_CREATE_DEVICE)).toBe(0xc00caee0);
    // _IOW: WRITE is 1 << 30 generic, 4 << 29 powerpc.
    expect(kvm.KVM_SET_DEVICE_ATTR).toBe(0x4018aee1);
    expect(toPowerpc(kvm.KVM_SET_DEVICE_ATTR)).toBe(0x8018aee1);
    expect(kvm.KVM_PPC_RTAS_DEFINE_TOKEN).toBe(0x4080aeac);
    expect(toPowerpc(kvm.KVM_PPC_RTAS_DEFINE_TOKEN)).toBe(0x8080aeac);
    expect(kvm.KVM_RUN).toBe(0xae80);
    expect(toPowerpc(kvm.KVM_RUN)).toBe(0x2000ae80);
  });

  it('_IOR / _IOW / _IOWR set the direction and size fields', () => {
    expect(_IOR('x', 1, 8)).toBe(((2 << 30) | (8 << 16) | (0x78 << 8) | 1) >>> 0);
    expect(_IOW('x', 1, 8)).toBe(((1 << 30) | (8 << 16) | (0x78 << 8) | 1) >>> 0);
    expect(_IOWR('x', 1, 8)).toBe(((3 << 30) | (8 << 16) | (0x78 << 8) | 1) >>> 0);
    expect(powerpc._IOR('x', 1, 8)).toBe(((2 << 29) | (8 << 16) | (0x78 << 8) | 1) >>> 0);
    expect(generic._IOC_DIR(kvm.KVM_CREATE_DEVICE)).toBe('readwrite');
    expect(generic._IOC_SIZE(kvm.KVM_CREATE_DEVICE)).toBe(12);
    expect(generic._IOC_TYPE(kvm.KVM_CREATE_DEVICE)).toBe(kvm.KVMIO);
    expect(generic._IOC_NR(kvm.KVM_CREATE_DEVICE)).toBe(0xe0);
  });

  it('rejects out-of-range fields (programmer errors)', () => {
    expect(() => _IO(';', 256)).toThrow(RangeError);
    expect(() => _IO(';;', 1)).toThrow(RangeError);
    expect(() => _IO(0x100, 1)).toThrow(RangeError);
    expect(() => _IOW(';', 1, 1 << 14)).toThrow(RangeError);
    // powerpc has one size bit fewer.
    expect(() => powerpc._IOW(';', 1, 1 << 13)).toThrow(RangeError);
    expect(_IOW(';', 1, 1 << 13)).toBeGreaterThan(0);
  });

  it('a generic _IO number is not a valid powerpc request (direction 0)', () => {
    expect(decodeIoc(IOC_POWERPC, 0x3b79)).toBeUndefined();
    expect(decodeIoc(IOC_GENERIC, -1)).toBeUndefined();
    expect(decodeIoc(IOC_GENERIC, 2 ** 32)).toBeUndefined();
  });

  const dirs: IocDir[] = ['none', 'read', 'write', 'readwrite'];
  const fields = fc.record({
    dir: fc.constantFrom(...dirs),
    type: fc.integer({ min: 0, max: 0xff }),
    nr: fc.integer({ min: 0, max: 0xff }),
    size: fc.integer({ min: 0, max: 2 ** 13 - 1 }),
  });

  it('property: decode(encode(x)) = x in both encodings, and re-encoding round-trips', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const size = f.dir === 'none' ? 0 : f.size;
        const want = { ...f, size };
        for (const enc of [IOC_GENERIC, IOC_POWERPC]) {
          const req = ioc(enc, f.dir, f.type, f.nr, size);
          expect(req).toBeGreaterThanOrEqual(0);
          expect(req).toBeLessThanOrEqual(0xffff_ffff);
          expect(decodeIoc(enc, req)).toEqual(want);
        }
        const g = ioc(IOC_GENERIC, f.dir, f.type, f.nr, size);
        expect(reencode(IOC_POWERPC, IOC_GENERIC, toPowerpc(g))).toBe(g);
      }),
    );
  });

  it('property: distinct fields give distinct numbers (no aliasing)', () => {
    fc.assert(
      fc.property(fields, fields, (a, b) => {
        for (const enc of [IOC_GENERIC, IOC_POWERPC]) {
          const x = ioc(enc, a.dir, a.type, a.nr, a.size);
          const y = ioc(enc, b.dir, b.type, b.nr, b.size);
          const same = a.dir === b.dir && a.type === b.type && a.nr === b.nr && a.size === b.size;
          expect(x === y).toBe(same);
        }
      }),
    );
  });
});

describe('experimental ABI type bytes', () => {
  it('VFIO_DEVICE_SET_ADDR_MAPPING is _IO(VFIO_TYPE, VFIO_BASE + 27)', () => {
    expect(experimental.VFIO_DEVICE_SET_ADDR_MAPPING_NR).toBe(vfio.VFIO_BASE + 27);
    expect(experimental.VFIO_DEVICE_SET_ADDR_MAPPING).toBe(
      _IO(vfio.VFIO_TYPE, vfio.VFIO_BASE + 27),
    );
  });

  it('does not collide with any request number of the model on any fd', () => {
    const all = [
      ...Object.values(vfio.VFIO_IOCTLS).flatMap((t) => Object.values(t)),
      ...Object.values(kvm.KVM_IOCTLS).flatMap((t) => Object.values(t)),
    ];
    expect(all).not.toContain(experimental.VFIO_DEVICE_SET_ADDR_MAPPING);
  });

  it('ioctl name lookup is per fd kind', () => {
    expect(vfio.vfioIoctlName('container', vfio.VFIO_EEH_PE_OP)).toBe('VFIO_EEH_PE_OP');
    expect(vfio.vfioIoctlName('container', vfio.VFIO_BASE + 12 + 0x3b00)).toBe(
      'VFIO_IOMMU_SPAPR_TCE_GET_INFO',
    );
    expect(vfio.vfioIoctlName('device', vfio.VFIO_IOMMU_SPAPR_TCE_GET_INFO)).toBe(
      'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO',
    );
    expect(vfio.vfioIoctlName('group', vfio.VFIO_EEH_PE_OP)).toBeUndefined();
    expect(vfio.vfioIoctlName('device', experimental.VFIO_DEVICE_SET_ADDR_MAPPING)).toBeUndefined();
    expect(kvm.kvmIoctlName('vm', kvm.KVM_CREATE_DEVICE)).toBe('KVM_CREATE_DEVICE');
    expect(kvm.kvmIoctlName('vcpu', kvm.KVM_CREATE_DEVICE)).toBeUndefined();
  });
});
