import { describe, expect, it } from 'vitest';
import { EEH_PE_ISOLATED } from '../../src/kernel/eeh_consts.js';
import { ms } from '../../src/sim/time.js';
import { EFAULT, EINVAL, EIO, ENODEV, EPERM } from '../../src/uapi/errno.js';
import {
  VFIO_EEH_PE_CONFIGURE,
  VFIO_EEH_PE_DISABLE,
  VFIO_EEH_PE_ENABLE,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_INJECT_ERR,
  VFIO_EEH_PE_OP,
  VFIO_EEH_PE_RESET_DEACTIVATE,
  VFIO_EEH_PE_RESET_FUNDAMENTAL,
  VFIO_EEH_PE_RESET_HOT,
  VFIO_EEH_PE_STATE_NORMAL,
  VFIO_EEH_PE_STATE_RESET,
  VFIO_EEH_PE_STATE_STOPPED,
  VFIO_EEH_PE_STATE_STOPPED_DMA,
  VFIO_EEH_PE_STATE_UNAVAIL,
  VFIO_EEH_PE_UNFREEZE_DMA,
  VFIO_EEH_PE_UNFREEZE_IO,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_ENABLE,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
} from '../../src/uapi/vfio.js';
import { TceIommu } from '../../src/vfio/spapr_tce.js';
import { encode } from './encode.js';
import { hostState, makeHost, ready, run, s32, User } from './fake_backend.js';

const peOp = (op: number, extra: Parameters<typeof encode.peOp>[0] = {}, len?: number) =>
  encode.peOp({ op, ...extra }, len);

function eehOps(h: ReturnType<typeof makeHost>) {
  return h.sim.trace.find('vfio.eeh.pe_op').map((r) => `${r.fields.group}:${r.fields.op}`);
}

describe('VFIO_EEH_PE_OP on one group', () => {
  it('GET_STATE is the return value and nothing is copied back', () => {
    const h = makeHost();
    const { u, container: c } = ready(h);
    const pe = h.pes[0]!;
    const b = peOp(VFIO_EEH_PE_GET_STATE);
    const copy = new Uint8Array(b.slice(0));
    expect(u.ioctl(c, VFIO_EEH_PE_OP, b)).toBe(VFIO_EEH_PE_STATE_NORMAL);
    h.ops.freeze(pe);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, b)).toBe(VFIO_EEH_PE_STATE_STOPPED);
    h.ops.hwOf(pe).mmioFrozen = false;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, b)).toBe(VFIO_EEH_PE_STATE_STOPPED_DMA);
    h.ops.hwOf(pe).reset = true;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, b)).toBe(VFIO_EEH_PE_STATE_RESET);
    h.ops.hwOf(pe).reset = false;
    // The host recovering the parent PE: the guest must wait.
    h.busPe.state |= EEH_PE_ISOLATED;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, b)).toBe(VFIO_EEH_PE_STATE_UNAVAIL);
    expect(new Uint8Array(b)).toEqual(copy);
  });

  it('ENABLE thaws a frozen PE (-EIO with host EEH off); DISABLE is a no-op; UNFREEZE_IO / _DMA thaw', () => {
    const h = makeHost();
    const { u, container: c } = ready(h);
    const pe = h.pes[0]!;
    h.ops.freeze(pe);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_DISABLE))).toBe(0);
    expect(h.ops.hwOf(pe).mmioFrozen).toBe(true);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_UNFREEZE_IO))).toBe(0);
    expect(h.ops.hwOf(pe)).toMatchObject({ mmioFrozen: false, dmaFrozen: true });
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_UNFREEZE_DMA))).toBe(0);
    expect(h.ops.hwOf(pe)).toMatchObject({ mmioFrozen: false, dmaFrozen: false });
    h.ops.freeze(pe);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_ENABLE))).toBe(0);
    expect(h.ops.hwOf(pe)).toMatchObject({ mmioFrozen: false, dmaFrozen: false });
    h.eeh.enabled = false;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_ENABLE))).toBe(-EIO);
  });

  it('RESET_HOT / FUNDAMENTAL / DEACTIVATE reach eeh_pe_reset(pe, 1/3/0) with the hold and settle times', () => {
    const h = makeHost();
    const { u, container: c } = ready(h);
    const label = h.pes[0]!.label;
    h.ops.calls.length = 0;
    let t = h.sim.now;
    // The platform holds the reset 250 ms, settles 1800 ms (plus the
    // core's own small costs).
    const within = (dt: number, hold: number) => {
      expect(dt).toBeGreaterThanOrEqual(ms(hold));
      expect(dt).toBeLessThan(ms(hold + 1));
    };
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_RESET_HOT))).toBe(0);
    within(h.sim.now - t, 250);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(VFIO_EEH_PE_STATE_RESET);
    t = h.sim.now;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_RESET_DEACTIVATE))).toBe(0);
    within(h.sim.now - t, 1800);
    // include_passed: the passed-through PE is thawed after the reset.
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(VFIO_EEH_PE_STATE_NORMAL);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_RESET_FUNDAMENTAL))).toBe(0);
    expect(h.ops.calls.filter((x) => x.startsWith('reset'))).toEqual([
      `reset ${label} 1`,
      `reset ${label} 0`,
      `reset ${label} 3`,
    ]);
  });

  it('CONFIGURE returns 0; INJECT_ERR needs argsz 40 and passes type, func, addr, mask', () => {
    const h = makeHost();
    const { u, container: c } = ready(h);
    const label = h.pes[0]!.label;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_CONFIGURE))).toBe(0);
    const err = { type: 1, func: 4, addr: 0x1234n, mask: 0xffffn };
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_INJECT_ERR, { argsz: 39, err }))).toBe(
      -EINVAL,
    );
    // argsz claims 40 but only 39 bytes of memory: the second copy faults.
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_INJECT_ERR, { err }, 39))).toBe(-EFAULT);
    expect(h.ops.calls.some((x) => x.startsWith('err_inject'))).toBe(false);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_INJECT_ERR, { argsz: 40, err }))).toBe(0);
    expect(h.ops.calls).toContain(`err_inject ${label} 1 4`);
    // eeh_pe_inject_err(): func outside 0..19.
    expect(
      u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_INJECT_ERR, { err: { ...err, func: 20 } })),
    ).toBe(-EINVAL);
  });

  it('checks in order: copy of 12 bytes, argsz, flags, op', () => {
    const h = makeHost();
    const { u, container: c } = ready(h);
    const before = hostState(h);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, 0)).toBe(-EFAULT);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, new ArrayBuffer(11))).toBe(-EFAULT);
    // 12 bytes are enough for every op but INJECT_ERR.
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE, { argsz: 12 }, 12))).toBe(0);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE, { argsz: 11 }))).toBe(-EINVAL);
    for (const flags of [1, 2, 0x8000_0000]) {
      expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE, { flags }))).toBe(-EINVAL);
    }
    for (const op of [10, 11, 0xffff_ffff]) {
      expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(op))).toBe(-EINVAL);
    }
    expect(hostState(h)).toEqual(before);
  });

  it('a group without a PE is -ENODEV, before the buffer is read', () => {
    const h = makeHost();
    const { u, container: c } = ready(h, { groups: [4] });
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(-ENODEV);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, 0)).toBe(-ENODEV);
  });

  it("another process's mm is -EPERM before anything else, once the container's mm is bound", () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    const g = u.open('/dev/vfio/4'); // no PE: would be -ENODEV
    u.ioctl(g, VFIO_GROUP_SET_CONTAINER, s32(c));
    expect(u.ioctl(c, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(0);
    const other = new User(h, 200);
    const fd = h.vfio.passFd(u.proc, c, other.proc);
    // tce_iommu_ioctl compares current->mm only once container->mm is set
    // (IOMMU_ENABLE for v1): until then the other process reaches the op.
    expect(other.ioctl(fd, VFIO_EEH_PE_OP, 0)).toBe(-ENODEV);
    expect(u.ioctl(c, VFIO_IOMMU_ENABLE)).toBe(0);
    expect(other.ioctl(fd, VFIO_EEH_PE_OP, 0)).toBe(-EPERM);
    expect(other.ioctl(fd, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(-EPERM);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, 0)).toBe(-ENODEV);
    // Closing the passed fd leaves the owner's container working.
    expect(other.close(fd)).toBe(0);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, 0)).toBe(-ENODEV);
  });

  it('a container without an IOMMU is -EINVAL; the driver with no group answers 0', () => {
    const h = makeHost();
    const u = new User(h);
    const c = u.open('/dev/vfio/vfio');
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(-EINVAL);
    // tce_iommu_ioctl's loop over an empty group_list (unreachable through
    // container.c, which releases the driver with the last group).
    const drv = new TceIommu(h.vfio, true);
    expect(run(h.sim, drv.ioctl(u.proc, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE)))).toBe(0);
    expect(run(h.sim, drv.ioctl(u.proc, VFIO_EEH_PE_OP, 0))).toBe(0);
  });
});

describe('VFIO_EEH_PE_OP on several groups (v2 container)', () => {
  /** Groups 1 and 2 attached before SET_IOMMU, 3 after: driver list order 3, 1, 2. */
  function three() {
    const h = makeHost();
    const r = ready(h, { type: 'v2', groups: [1, 2] });
    const g3 = r.u.open('/dev/vfio/3');
    expect(r.u.ioctl(g3, VFIO_GROUP_SET_CONTAINER, s32(r.container))).toBe(0);
    expect(h.vfio.snapshot().containers[0]?.iommu?.groups).toEqual([3, 1, 2]);
    return { h, ...r, g3 };
  }

  it('runs the op on every group, most recently attached first, when all return 0', () => {
    const { h, u, container: c } = three();
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(0);
    expect(eehOps(h)).toEqual(['3:4', '1:4', '2:4']);
  });

  it('GET_STATE reports the first group that is not NORMAL', () => {
    const { h, u, container: c } = three();
    h.ops.freeze(h.pes[1]!); // group 2
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(2);
    h.ops.freeze(h.pes[0]!); // group 1
    h.ops.hwOf(h.pes[0]!).mmioFrozen = false;
    h.sim.trace.records.length = 0;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(4);
    expect(eehOps(h)).toEqual(['3:4', '1:4']);
  });

  it('stops at the first error', () => {
    const { h, u, container: c } = three();
    const bad = peOp(VFIO_EEH_PE_INJECT_ERR, { err: { type: 1, func: 99 } });
    expect(u.ioctl(c, VFIO_EEH_PE_OP, bad)).toBe(-EINVAL);
    expect(eehOps(h)).toEqual(['3:9']);
    // A group without a PE stops the loop with -ENODEV.
    const g4 = u.open('/dev/vfio/4');
    expect(u.ioctl(g4, VFIO_GROUP_SET_CONTAINER, s32(c))).toBe(0);
    h.sim.trace.records.length = 0;
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(-ENODEV);
    expect(eehOps(h)).toEqual([]);
  });

  it('each group reaches only its own PE', () => {
    const { h, u, container: c } = three();
    const other = new User(h, 300);
    const c2 = other.open('/dev/vfio/vfio');
    // Group 1 is open already (one open at a time); the other VMM cannot take it.
    expect(other.open('/dev/vfio/1')).toBeLessThan(0);
    for (const pe of h.pes) h.ops.freeze(pe);
    expect(u.ioctl(c, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_ENABLE))).toBe(0);
    expect(h.pes.map((pe) => h.ops.hwOf(pe).mmioFrozen)).toEqual([false, false, false]);
    expect(other.ioctl(c2, VFIO_EEH_PE_OP, peOp(VFIO_EEH_PE_GET_STATE))).toBe(-EINVAL);
  });
});
