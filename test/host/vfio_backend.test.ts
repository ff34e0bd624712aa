/**
 * The host side of the VFIO contract (src/host/vfio_backend.ts), driven through
 * the real VFIO module registered on the host's syscall layer - what the
 * machine assembly does:
 *
 *   const vfio = new Vfio(sim, host.vfioBackend());
 *   vfio.register(host.syscalls);
 */
import { describe, expect, it } from 'vitest';
import type { HostProcess } from '../../src/host/process.js';
import { TCE_PCI_READ, TCE_PCI_WRITE } from '../../src/hw/tce.js';
import { hpa, iova } from '../../src/uapi/ids.js';
import { PCI_BASE_ADDRESS_0, PCI_VENDOR_ID } from '../../src/uapi/pci_regs.js';
import {
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_OP,
  VFIO_EEH_PE_RESET_DEACTIVATE,
  VFIO_EEH_PE_RESET_HOT,
  VFIO_EEH_PE_STATE_NORMAL,
  VFIO_EEH_PE_STATE_STOPPED,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  vfio_group_status,
} from '../../src/uapi/vfio.js';
import { Vfio } from '../../src/vfio/vfio.js';
import { decode, encode } from '../vfio/encode.js';
import { cstr, s32 } from '../vfio/fake_backend.js';
import { bootHost, dev, type Machine, ROOT_TOPOLOGY, run } from './helpers.js';

function withVfio(m: Machine) {
  const vfio = new Vfio(m.sim, m.host.vfioBackend());
  vfio.register(m.host.syscalls);
  const sc = m.host.syscalls;
  const qemu = sc.spawnProcess('qemu');
  const ioctl = (p: HostProcess, fd: number, req: number, arg: ArrayBuffer | number = 0) =>
    run(m, sc.ioctl(p, fd, req, arg));
  return { vfio, sc, qemu, ioctl };
}

describe('HostKernel as the VFIO backend', () => {
  it('serves a VMM: group viability, TCE mapping, device open (eeh_dev_open), PE ops', () => {
    const m = bootHost(ROOT_TOPOLOGY, { vfio: ['nic1'] });
    const { sc, qemu, ioctl } = withVfio(m);
    const nic1 = dev(m, 'nic1');
    const groupId = nic1.iommuGroup;
    const pe = m.host.peOf(nic1);
    if (!pe) throw new Error('no PE');

    const container = run(m, sc.open(qemu, '/dev/vfio/vfio'));
    const group = run(m, sc.open(qemu, `/dev/vfio/${groupId}`));
    expect(container).toBeGreaterThan(0);
    expect(group).toBeGreaterThan(0);
    const st = encode.groupStatus();
    expect(ioctl(qemu, group, VFIO_GROUP_GET_STATUS, st)).toBe(0);
    expect(decode(vfio_group_status, st).flags & VFIO_GROUP_FLAGS_VIABLE).toBeTruthy();
    expect(ioctl(qemu, group, VFIO_GROUP_SET_CONTAINER, s32(container))).toBe(0);
    expect(ioctl(qemu, container, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)).toBe(0);
    expect(ioctl(qemu, container, VFIO_IOMMU_ENABLE)).toBe(0);

    // Guest RAM mapped for DMA lands in the PE's TCE table.
    const va = sc.mmapAnonymous(qemu, 0x1_0000);
    expect(va).toBeGreaterThan(0);
    const map = encode.map({
      flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
      vaddr: BigInt(va),
      iova: 0x10_0000n,
      size: 0x1_0000n,
    });
    expect(ioctl(qemu, container, VFIO_IOMMU_MAP_DMA, map)).toBe(0);
    const tce = m.host.hw.phb(0)?.pe(pe.addr)?.tce;
    expect(tce?.lookup(0x10_0000)).toEqual({ hpa: va, perm: TCE_PCI_READ | TCE_PCI_WRITE });
    expect(tce?.lookup(0x10_f000)?.hpa).toBe(va + 0xf000);
    expect(m.host.groupOf(nic1)?.mappedPages).toBe(16);

    // Opening the device hands the PE to the user.
    const devFd = ioctl(qemu, group, VFIO_GROUP_GET_DEVICE_FD, cstr(nic1.name));
    expect(devFd).toBeGreaterThan(0);
    expect(pe.passDevCnt).toBe(1);

    const getState = () =>
      ioctl(qemu, container, VFIO_EEH_PE_OP, encode.peOp({ op: VFIO_EEH_PE_GET_STATE }));
    expect(getState()).toBe(VFIO_EEH_PE_STATE_NORMAL);
    run(m, m.host.debugfs.devBreak(nic1.name));
    expect(getState()).toBe(VFIO_EEH_PE_STATE_STOPPED);
    expect(m.host.eeh.recoveries).toHaveLength(0);
    // A guest-driven reset goes to the host PE (not counted as a host freeze).
    const t0 = m.sim.now;
    const op = (o: number) => ioctl(qemu, container, VFIO_EEH_PE_OP, encode.peOp({ op: o }));
    expect(op(VFIO_EEH_PE_RESET_HOT)).toBe(0);
    expect(op(VFIO_EEH_PE_RESET_DEACTIVATE)).toBe(0);
    expect(m.sim.now - t0).toBeGreaterThanOrEqual(m.sim.costs.ns('pe_reset_settle'));
    expect(getState()).toBe(VFIO_EEH_PE_STATE_NORMAL);
    expect(pe.freezeCount).toBe(0);

    // Closing the device gives the PE back to the host.
    expect(run(m, sc.close(qemu, devFd))).toBe(0);
    expect(pe.passDevCnt).toBe(0);
  });

  it('describes functions the way vfio-pci uses them (config, BARs, FLR)', () => {
    const m = bootHost(ROOT_TOPOLOGY, { vfio: ['nic1'] });
    const nic1 = dev(m, 'nic1');
    const g = m.host.vfioBackend().iommuGroup(nic1.iommuGroup);
    const fn = g?.devices()[0];
    if (!fn) throw new Error('no function');
    expect(fn.name).toBe('0000:00:02.0');
    expect(fn.vfioBound).toBe(true);
    expect(fn.edev).toBe(nic1.edev);
    expect([fn.cfgSize, fn.isPcie, fn.resetWorks, fn.intxPin]).toEqual([4096, true, true, 1]);
    const bar0 = fn.bar(0);
    expect(bar0).toMatchObject({ index: 0, kind: 'mem', is64: false, size: 0x1000 });
    expect(bar0?.hostAddress).toBe(nic1.bar(0)?.start);
    expect(fn.bar(1)).toBeUndefined();
    expect(run(m, fn.configRead(PCI_VENDOR_ID, 2))).toBe(nic1.vendor);
    const bar0Reg = run(m, fn.configRead(PCI_BASE_ADDRESS_0, 4));
    // FLR: the function comes back with its config header restored.
    expect(run(m, fn.reset())).toBe(0);
    expect(run(m, fn.configRead(PCI_BASE_ADDRESS_0, 4))).toBe(bar0Reg);
    expect(run(m, fn.configWrite(0x3, 2, 0))).toBe(-22);
    // Unbinding from vfio-pci makes the group non-viable.
    run(m, m.host.rebind(nic1, undefined));
    expect(fn.vfioBound).toBe(false);
    expect(nic1.driver?.name).toBe('testnic');
  });

  it('tceMap / tceUnmap are all-or-nothing and check the window', () => {
    const m = bootHost(ROOT_TOPOLOGY, { vfio: ['nic1'] });
    const g = m.host.groupOf(dev(m, 'nic1'));
    if (!g) throw new Error('no group');
    const info = g.tceInfo();
    expect(info).toMatchObject({ start: 0, size: 0x4000_0000, pageShift: 12, levels: 1 });
    const base = 0x2_0000_0000;
    expect(run(m, g.tceMap(iova(info.size - 0x1000), hpa(base), 0x2000, 3))).toBe(-22);
    expect(g.mappedPages).toBe(0);
    expect(run(m, g.tceMap(iova(0), hpa(base), 0x3000, TCE_PCI_READ))).toBe(0);
    expect(g.mappedPages).toBe(3);
    expect(run(m, g.tceUnmap(iova(0x1000), 0x1000))).toBe(0);
    expect(g.mappedPages).toBe(2);
    expect(run(m, g.tceMap(iova(0), hpa(base), 0x1000, 0))).toBe(-22);
  });
});
