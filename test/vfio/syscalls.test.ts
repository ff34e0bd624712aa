/**
 * VFIO behind the host's syscall layer: /dev/vfio registration, fds per
 * process, pread / mmap / close through Syscalls, and the trace spans.
 */
import { describe, expect, it } from 'vitest';
import { Syscalls } from '../../src/host/process.js';
import type { Task } from '../../src/sim/scheduler.js';
import { EBADF, ENOENT, ENOTTY } from '../../src/uapi/errno.js';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_EEH,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_OP,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_ENABLE,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
} from '../../src/uapi/vfio.js';
import { encode } from './encode.js';
import { cstr, makeHost, run, s32 } from './fake_backend.js';

function boot() {
  const h = makeHost();
  // MODEL of the test: VFIO never asks Syscalls for anonymous memory.
  const sys = new Syscalls(
    h.sim,
    undefined as unknown as ConstructorParameters<typeof Syscalls>[1],
  );
  h.vfio.register(sys);
  return { h, sys };
}

describe('VFIO through Syscalls', () => {
  it('a VMM opens container, group and device and runs EEH ops by fd', () => {
    const { h, sys } = boot();
    const qemu = sys.spawnProcess('qemu');
    const r = (t: Task<number>) => run(h.sim, t);
    const c = r(sys.open(qemu, '/dev/vfio/vfio'));
    const g = r(sys.open(qemu, '/dev/vfio/1'));
    expect(r(sys.open(qemu, '/dev/vfio/7'))).toBe(-ENOENT);
    expect(r(sys.open(qemu, '/dev/vfio'))).toBe(-ENOENT);
    expect(r(sys.ioctl(qemu, c, VFIO_GET_API_VERSION, 0))).toBe(0);
    expect(r(sys.ioctl(qemu, c, VFIO_CHECK_EXTENSION, VFIO_EEH))).toBe(1);
    expect(r(sys.ioctl(qemu, g, VFIO_GROUP_SET_CONTAINER, s32(c)))).toBe(0);
    expect(r(sys.ioctl(qemu, c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU))).toBe(0);
    expect(r(sys.ioctl(qemu, c, VFIO_IOMMU_ENABLE, 0))).toBe(0);
    const d = r(sys.ioctl(qemu, g, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:01:00.0')));
    expect(qemu.listFds()).toEqual([
      { fd: c, kind: 'vfio-container' },
      { fd: g, kind: 'vfio-group' },
      { fd: d, kind: 'vfio-device' },
    ]);
    const buf = new Uint8Array(2);
    expect(r(sys.pread(qemu, d, 7 * 2 ** 40, buf))).toBe(2);
    expect([...buf]).toEqual([0x14, 0x10]);
    expect(sys.mmap(qemu, d, 0, 0x1000)).toBe(h.group(1).fns[0]!.bars[0]!.hostAddress);
    expect(sys.mmap(qemu, c, 0, 0x1000)).toBeLessThan(0); // a container has no mmap
    expect(r(sys.pread(qemu, g, 0, buf))).toBe(-ENOTTY);
    h.ops.freeze(h.pes[0]!);
    const op = encode.peOp({ op: VFIO_EEH_PE_GET_STATE });
    expect(r(sys.ioctl(qemu, c, VFIO_EEH_PE_OP, op))).toBe(2);

    // Another process has none of these fds.
    const intruder = sys.spawnProcess('intruder');
    expect(r(sys.ioctl(intruder, c, VFIO_EEH_PE_OP, op))).toBe(-EBADF);
    expect(r(sys.ioctl(intruder, d, VFIO_GROUP_GET_DEVICE_FD, cstr('0000:01:00.0')))).toBe(-EBADF);

    for (const fd of [d, g, c]) expect(r(sys.close(qemu, fd))).toBe(0);
    expect(h.pes[0]!.passDevCnt).toBe(0);
    expect(h.vfio.snapshot()).toEqual({
      containers: [],
      groups: [
        {
          id: 1,
          opened: false,
          fileRefs: 0,
          container: null,
          containerUsers: 0,
          devices: [expect.objectContaining({ name: '0000:01:00.0', openCount: 0 })],
        },
      ],
    });
  });

  it('traces one span per ioctl with its name and rc', () => {
    const { h, sys } = boot();
    const p = sys.spawnProcess('qemu');
    const c = run(h.sim, sys.open(p, '/dev/vfio/vfio')) as number;
    h.sim.trace.records.length = 0;
    run(h.sim, sys.ioctl(p, c, VFIO_EEH_PE_OP, encode.peOp({ op: 4 })));
    run(h.sim, sys.ioctl(p, c, 0x3b00, 0));
    const spans = h.sim.trace.records.filter((x) => x.name === 'vfio.ioctl');
    expect(spans.map((x) => [x.ph, x.fields])).toEqual([
      ['B', { fd: 'vfio-container', ioctl: 'VFIO_EEH_PE_OP' }],
      ['E', { rc: -22 }],
      ['B', { fd: 'vfio-container', ioctl: '0x3B00' }],
      ['E', { rc: -22 }],
    ]);
  });
});
