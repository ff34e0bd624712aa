import { describe, expect, it } from 'vitest';
import { EBADF, EBUSY, EFAULT, EINVAL, ENODEV, ENOENT, ENOTTY } from '../../src/uapi/errno.js';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DEVICE_GET_INFO,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_OP,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  vfio_group_status,
} from '../../src/uapi/vfio.js';
import { decode, encode } from './encode.js';
import { cstr, hostState, makeHost, ready, s32, User } from './fake_backend.js';

function status(u: User, g: number): number {
  const b = encode.groupStatus();
  const rc = u.ioctl(g, VFIO_GROUP_GET_STATUS, b);
  if (rc) return rc;
  return decode(vfio_group_status, b).flags;
}

describe('group: /dev/vfio/<n>', () => {
  it('open: unknown or vfio-less group -ENOENT, one open at a time -EBUSY', () => {
    const h = makeHost();
    const u = new User(h);
    expect(u.open('/dev/vfio/99')).toBe(-ENOENT);
    expect(u.open('/dev/vfio/x1')).toBe(-ENOENT);
    expect(u.open('/dev/vfio/-1')).toBe(-ENOENT);
    h.group(2).fns[0]!.vfioBound = false;
    expect(u.open('/dev/vfio/2')).toBe(-ENOENT);
    const g = u.open('/dev/vfio/1');
    expect(g).toBeGreaterThanOrEqual(3);
    expect(u.open('/dev/vfio/1')).toBe(-EBUSY);
    expect(new User(h, 200).open('/dev/vfio/1')).toBe(-EBUSY);
    expect(u.close(g)).toBe(0);
    expect(u.open('/dev/vfio/1')).toBeGreaterThanOrEqual(3);
  });

  it('GET_STATUS: VIABLE when every function is bound to vfio-pci, CONTAINER_SET; argsz / buffer checks', () => {
    const h = makeHost();
    const u = new User(h);
    const g = u.open('/dev/vfio/3');
    expect(status(u, g)).toBe(VFIO_GROUP_FLAGS_VIABLE);
    h.group(3).fns[1]!.vfioBound = false;
    expect(status(u, g)).toBe(0);
    h.group(3).fns[1]!.vfioBound = true;
    const c = u.open('/dev/vfio/vfio');
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect(status(u, g)).toBe(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
    expect(u.ioctl(g, VFIO_GROUP_GET_STATUS, encode.groupStatus({ argsz: 7 }))).toBe(-EINVAL);
    expect(u.ioctl(g, VFIO_GROUP_GET_STATUS, new ArrayBuffer(7))).toBe(-EFAULT);
    expect(u.ioctl(g, VFIO_GROUP_GET_STATUS, 0)).toBe(-EFAULT);
    // argsz larger than the struct is fine; only 8 bytes are written.
    const big = encode.groupStatus({ argsz: 64, flags: 0xdead }, 16);
    new Uint8Array(big)[12] = 0x5a;
    expect(u.ioctl(g, VFIO_GROUP_GET_STATUS, big)).toBe(0);
    expect(decode(vfio_group_status, big)).toEqual({ argsz: 64, flags: 3 });
    expect(new Uint8Array(big)[12]).toBe(0x5a);
  });

  it('SET_CONTAINER: -EFAULT, -EBADF, -EINVAL (not a container, already set), -EBUSY (not viable)', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g = u.open('/dev/vfio/3');
    const g1 = u.open('/dev/vfio/1');
    const before = hostState(h);
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, c)).toBe(-EFAULT); // an int, not a pointer
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, new ArrayBuffer(3))).toBe(-EFAULT);
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(77))).toBe(-EBADF);
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(-1))).toBe(-EBADF);
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(g1))).toBe(-EINVAL);
    h.group(3).fns[0]!.vfioBound = false;
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(-EBUSY);
    h.group(3).fns[0]!.vfioBound = true;
    expect(hostState(h)).toEqual(before);
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(-EINVAL);
    // Another process's fd numbers mean nothing here.
    const other = new User(h, 200);
    const oc = other.open('/dev/vfio/vfio');
    expect(u.ioctl(g1, VFIO_GROUP_SET_CONTAINER, s32(oc + 10))).toBe(-EBADF);
  });

  it('UNSET_CONTAINER: -EINVAL without one, -EBUSY while a device is open', () => {
    const h = makeHost();
    const { u, groupFds, deviceFds } = ready(h, { devices: ['0000:01:00.0'] });
    const g = groupFds[0]!;
    expect(u.ioctl(g, VFIO_GROUP_UNSET_CONTAINER)).toBe(-EBUSY);
    expect(u.close(deviceFds[0]!)).toBe(0);
    expect(u.ioctl(g, VFIO_GROUP_UNSET_CONTAINER)).toBe(0);
    expect(u.ioctl(g, VFIO_GROUP_UNSET_CONTAINER)).toBe(-EINVAL);
    expect(status(u, g)).toBe(VFIO_GROUP_FLAGS_VIABLE);
  });

  it('GET_DEVICE_FD: name checks, then a viable group in a container with an IOMMU', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g = u.open('/dev/vfio/3');
    const dev = cstr('0000:03:00.0');
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, 0)).toBe(-EFAULT);
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, new Uint8Array([0x30, 0x30]).buffer)).toBe(-EFAULT);
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, new Uint8Array(4096).fill(0x41).buffer)).toBe(
      -EINVAL,
    );
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:01:00.0'))).toBe(-ENODEV); // other group
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:03:00.7'))).toBe(-ENODEV);
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, dev)).toBe(-EINVAL); // no container
    expect(u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, dev)).toBe(-EINVAL); // before SET_IOMMU
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(0);
    h.group(3).fns[1]!.vfioBound = false;
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, dev)).toBe(-EINVAL); // not viable
    expect(u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:03:00.1'))).toBe(-ENODEV); // unbound
    h.group(3).fns[1]!.vfioBound = true;
    expect(h.pes[2]!.passDevCnt).toBe(0);
    const d = u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, dev);
    expect(d).toBeGreaterThanOrEqual(3);
    expect(u.proc.file(d)?.kind).toBe('vfio-device');
  });

  it('the first open of a device calls eeh_dev_open (thaw + pass_dev_cnt), the last close eeh_dev_release', () => {
    const h = makeHost();
    const { u, groupFds } = ready(h, { groups: [3] });
    const g = groupFds[0]!;
    const pe = h.pes[2]!;
    h.ops.freeze(pe);
    const a = u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:03:00.0'));
    expect(h.ops.hwOf(pe).mmioFrozen).toBe(false);
    expect(pe.passDevCnt).toBe(1);
    const b = u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:03:00.0'));
    const c = u.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:03:00.1'));
    expect(new Set([a, b, c]).size).toBe(3);
    expect(pe.passDevCnt).toBe(2); // two functions opened
    expect(u.close(a)).toBe(0);
    expect(pe.passDevCnt).toBe(2);
    expect(u.close(b)).toBe(0);
    expect(pe.passDevCnt).toBe(1);
    expect(u.close(c)).toBe(0);
    expect(pe.passDevCnt).toBe(0);
    expect(h.sim.trace.find('vfio.device.open').map((r) => r.fields.dev)).toEqual([
      '0000:03:00.0',
      '0000:03:00.1',
    ]);
  });

  it('device files keep the group open: closing the group fd defers its release', () => {
    const h = makeHost();
    const { u, container, groupFds, deviceFds } = ready(h, { devices: ['0000:01:00.0'] });
    expect(u.close(groupFds[0]!)).toBe(0);
    expect(u.open('/dev/vfio/1')).toBe(-EBUSY);
    expect(h.vfio.snapshot().containers[0]?.groups).toEqual([1]);
    expect(u.ioctl(deviceFds[0]!, VFIO_DEVICE_GET_INFO, encode.deviceInfo())).toBe(0);
    expect(u.close(deviceFds[0]!)).toBe(0);
    expect(h.vfio.snapshot().containers[0]).toMatchObject({ groups: [], iommu: null });
    expect(u.ioctl(container, VFIO_EEH_PE_OP, encode.peOp({ op: VFIO_EEH_PE_GET_STATE }))).toBe(
      -EINVAL,
    );
    expect(u.open('/dev/vfio/1')).toBeGreaterThanOrEqual(3);
  });

  it('container and device requests on a group fd are -ENOTTY', () => {
    const h = makeHost();
    const u = new User(h);
    const g = u.open('/dev/vfio/1');
    expect(u.ioctl(g, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU)).toBe(-ENOTTY);
    expect(u.ioctl(g, VFIO_EEH_PE_OP, encode.peOp({ op: 4 }))).toBe(-ENOTTY);
    expect(u.ioctl(g, VFIO_DEVICE_GET_INFO, encode.deviceInfo())).toBe(-ENOTTY);
    expect(u.ioctl(g, 0)).toBe(-ENOTTY);
  });
});
