/**
 * A small fake host for VFIO unit tests: IOMMU groups with fake PCI
 * functions (config space in a byte array, BARs, a reset counter) and a
 * TCE table per group, over a real EehCore running on the fake eeh_ops of
 * test/kernel/fake_platform.ts. The real host (src/host) replaces it in the
 * layer-contract tests.
 */

import { HostProcess, type IoctlArg } from '../../src/host/process.js';
import type {
  BarInfo,
  HostPciFunction,
  IommuGroupBackend,
  TceWindowInfo,
  VfioBackend,
} from '../../src/host/vfio_backend.js';
import { EehCore } from '../../src/kernel/eeh.js';
import { EEH_PE_BUS, EEH_PE_DEVICE } from '../../src/kernel/eeh_consts.js';
import { EehDev, type EehPe } from '../../src/kernel/eeh_dev.js';
import { PciSubsystem } from '../../src/kernel/pci_core.js';
import type { Task } from '../../src/sim/scheduler.js';
import { Sim } from '../../src/sim/sim.js';
import { bdf, type Hpa, hpa, type Iova, type PeNumber } from '../../src/uapi/ids.js';
import {
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_SPAPR_TCE_v2_IOMMU,
} from '../../src/uapi/vfio.js';
import { Vfio } from '../../src/vfio/vfio.js';
import { FakeOps } from '../kernel/fake_platform.js';
import { encode } from './encode.js';

export class FakeFunction implements HostPciFunction {
  vfioBound = true;
  edev: EehDev | undefined;
  cfgSize = 4096;
  isPcie = true;
  intxPin = 1;
  msiVectors = 1;
  msixVectors = 8;
  resetWorks = true;
  readonly config: Uint8Array;
  readonly bars: (BarInfo | undefined)[] = [];
  resets = 0;
  resetRc = 0;
  readonly configLog: string[] = [];

  constructor(
    readonly name: string,
    barBase: number,
  ) {
    this.config = new Uint8Array(this.cfgSize);
    // vendor 0x1014 device 0x0001, as a little-endian config space
    this.config.set([0x14, 0x10, 0x01, 0x00]);
    this.bars[0] = {
      index: 0,
      hostAddress: hpa(barBase),
      size: 0x4000,
      kind: 'mem',
      is64: true,
      prefetchable: false,
    };
    this.bars[2] = {
      index: 2,
      hostAddress: hpa(barBase + 0x10000),
      size: 0x100,
      kind: 'io',
      is64: false,
      prefetchable: false,
    };
  }

  bar(index: number): BarInfo | undefined {
    return this.bars[index];
  }

  *configRead(where: number, size: 1 | 2 | 4): Task<number> {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.config[where + i] as number);
    return v;
  }

  *configWrite(where: number, size: 1 | 2 | 4, value: number): Task<number> {
    this.configLog.push(`${where}/${size}=${value.toString(16)}`);
    for (let i = 0; i < size; i++) {
      this.config[where + i] = value & 0xff;
      value = Math.floor(value / 256);
    }
    return 0;
  }

  *reset(): Task<number> {
    this.resets++;
    return this.resetRc;
  }
}

export class FakeGroup implements IommuGroupBackend {
  /** IOMMU page number -> `hpa/perm` */
  readonly tces = new Map<number, string>();
  readonly calls: string[] = [];
  info: TceWindowInfo = {
    start: 0,
    size: 0x1000_0000,
    pageShift: 12,
    pageSizes: (1n << 12n) | (1n << 16n) | (1n << 24n),
    maxDynamicWindows: 1,
    levels: 5,
  };
  /** Make tceMap fail with this rc (0 = succeed). */
  mapRc = 0;

  constructor(
    readonly id: number,
    readonly fns: FakeFunction[],
    readonly pe_: EehPe | undefined,
  ) {}

  devices(): readonly HostPciFunction[] {
    return this.fns;
  }

  pe(): EehPe | undefined {
    return this.pe_;
  }

  tceInfo(): TceWindowInfo {
    return this.info;
  }

  *tceMap(iova: Iova, hpa: Hpa, size: number, perm: number): Task<number> {
    this.calls.push(`map ${iova.toString(16)} ${hpa.toString(16)} ${size.toString(16)} ${perm}`);
    if (this.mapRc) return this.mapRc;
    for (let off = 0; off < size; off += 4096) {
      this.tces.set((iova + off) / 4096, `${(hpa + off).toString(16)}/${perm}`);
    }
    return 0;
  }

  *tceUnmap(iova: Iova, size: number): Task<number> {
    this.calls.push(`unmap ${iova.toString(16)} ${size.toString(16)}`);
    for (const page of [...this.tces.keys()]) {
      if (page * 4096 >= iova && page * 4096 < iova + size) this.tces.delete(page);
    }
    return 0;
  }
}

export class FakeBackend implements VfioBackend {
  eehOn = true;
  readonly groups: FakeGroup[] = [];
  constructor(readonly eeh: EehCore) {}
  eehEnabled(): boolean {
    return this.eehOn;
  }
  iommuGroups(): readonly IommuGroupBackend[] {
    return this.groups;
  }
  iommuGroup(id: number): IommuGroupBackend | undefined {
    return this.groups.find((g) => g.id === id);
  }
}

/**
 * PHB 0 with, under a bus PE 1:
 * - group 1 = device PE 2: 0000:01:00.0
 * - group 2 = device PE 3: 0000:02:00.0
 * - group 3 = device PE 4: 0000:03:00.0 and 0000:03:00.1 (two functions)
 * - group 4: 0000:04:00.0, no PE (eeh_iommu_group_to_pe() finds none)
 */
export function makeHost() {
  const sim = new Sim({ seed: 1 });
  const ops = new FakeOps();
  const nop = {
    *read() {
      return 0;
    },
    *write() {},
  };
  const pci = new PciSubsystem(nop);
  const eeh = new EehCore(sim, ops, pci, { side: 'host' });
  eeh.addPhbPe(0);
  const busPe = eeh.addPe(EEH_PE_BUS, 0, 1 as PeNumber);
  const backend = new FakeBackend(eeh);
  const mkFn = (bus: number, fn: number, pe: EehPe | undefined) => {
    const f = new FakeFunction(
      `0000:0${bus}:00.${fn}`,
      0x4_0000_0000 + bus * 0x100_0000 + fn * 0x10_0000,
    );
    if (pe) {
      const edev = new EehDev(bdf(bus, 0, fn), undefined);
      eeh.attach(edev, pe);
      f.edev = edev;
    }
    return f;
  };
  const pes: EehPe[] = [];
  for (const [id, peNo, nfn] of [
    [1, 2, 1],
    [2, 3, 1],
    [3, 4, 2],
  ] as const) {
    const pe = eeh.addPe(EEH_PE_DEVICE, 0, peNo as PeNumber, busPe);
    pes.push(pe);
    const fns = Array.from({ length: nfn }, (_, i) => mkFn(id, i, pe));
    backend.groups.push(new FakeGroup(id, fns, pe));
  }
  backend.groups.push(new FakeGroup(4, [mkFn(4, 0, undefined)], undefined));
  const vfio = new Vfio(sim, backend);
  return {
    sim,
    ops,
    eeh,
    busPe,
    pes,
    backend,
    vfio,
    group: (id: number) => backend.groups[id - 1] as FakeGroup,
  };
}

export type Host = ReturnType<typeof makeHost>;

/** Runs a Task as a simulated process to completion. */
export function run<T>(sim: Sim, task: Task<T>): T {
  const p = sim.spawn('test', task);
  sim.run();
  if (!p.done) throw new Error('task did not finish');
  return p.result as T;
}

/**
 * A user process talking to VFIO through its fd table, like a VMM would
 * (open / ioctl / pread / pwrite / mmap / close, without the Syscalls
 * layer's costs).
 */
export class User {
  readonly proc: HostProcess;
  constructor(
    readonly host: Host,
    pid = 100,
  ) {
    this.proc = new HostProcess(pid, `qemu${pid}`);
  }

  open(path: string): number {
    const minor = path.slice(path.lastIndexOf('/') + 1);
    const f = run(this.host.sim, this.host.vfio.open(this.proc, minor));
    return typeof f === 'number' ? f : this.proc.install(f);
  }

  ioctl(fd: number, request: number, arg: IoctlArg = 0): number {
    const f = this.proc.file(fd);
    if (!f) return -9;
    return run(this.host.sim, f.ioctl(this.proc, request, arg));
  }

  pread(fd: number, offset: number, buf: Uint8Array): number {
    const f = this.proc.file(fd);
    if (!f?.read) return -25;
    return run(this.host.sim, f.read(this.proc, offset, buf));
  }

  pwrite(fd: number, offset: number, buf: Uint8Array): number {
    const f = this.proc.file(fd);
    if (!f?.write) return -25;
    return run(this.host.sim, f.write(this.proc, offset, buf));
  }

  mmap(fd: number, offset: number, length: number): number {
    const f = this.proc.file(fd);
    if (!f?.mmap) return -19;
    return f.mmap(this.proc, offset, length);
  }

  close(fd: number): number {
    const f = this.proc.remove(fd);
    if (!f) return -9;
    run(this.host.sim, f.release(this.proc));
    return 0;
  }

  /** Gives the process anonymous memory at `base` (what mmapAnonymous would). */
  addMemory(base: number, size: number): void {
    this.proc.memory.push({ base: hpa(base), size, owner: this.proc.name });
  }
}

/** A NUL-terminated string in a user buffer. */
export function cstr(s: string): ArrayBuffer {
  const b = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b.buffer;
}

/** A user buffer holding one s32. */
export function s32(v: number): ArrayBuffer {
  const b = new ArrayBuffer(4);
  new DataView(b).setInt32(0, v, true);
  return b;
}

/** Everything the fake host holds that VFIO may change (for "no change when rejected"). */
export function hostState(h: Host) {
  return {
    vfio: h.vfio.snapshot(),
    tces: h.backend.groups.map((g) => [...g.tces].sort((a, b) => a[0] - b[0])),
    config: h.backend.groups.map((g) => g.fns.map((f) => [...f.config.subarray(0, 64)].join(','))),
    resets: h.backend.groups.map((g) => g.fns.map((f) => f.resets)),
    pes: h.eeh.allPes().map((pe) => ({
      label: pe.label,
      state: pe.state,
      pass: pe.passDevCnt,
      hw: { ...h.ops.hwOf(pe) },
    })),
  };
}

export { encode };

/**
 * A VMM-like setup: container + groups in it + IOMMU set (+ enabled for
 * v1, memory registered for v2) + optional device fds.
 */
export function ready(
  h: Host,
  opts: { type?: 'v1' | 'v2'; groups?: number[]; devices?: string[]; user?: User } = {},
) {
  const u = opts.user ?? new User(h);
  const container = u.open('/dev/vfio/vfio');
  const groupFds: number[] = [];
  for (const g of opts.groups ?? [1]) {
    const fd = u.open(`/dev/vfio/${g}`);
    if (fd < 0) throw new Error(`open group ${g}: ${fd}`);
    const rc = u.ioctl(fd, VFIO_GROUP_SET_CONTAINER, s32(container));
    if (rc) throw new Error(`SET_CONTAINER ${g}: ${rc}`);
    groupFds.push(fd);
  }
  const type = opts.type ?? 'v1';
  let rc = u.ioctl(
    container,
    VFIO_SET_IOMMU,
    type === 'v1' ? VFIO_SPAPR_TCE_IOMMU : VFIO_SPAPR_TCE_v2_IOMMU,
  );
  if (rc) throw new Error(`SET_IOMMU: ${rc}`);
  u.addMemory(0x1_0000_0000, 0x10_0000);
  if (type === 'v1') {
    rc = u.ioctl(container, VFIO_IOMMU_ENABLE);
  } else {
    rc = u.ioctl(
      container,
      VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
      encode.registerMemory({ vaddr: 0x1_0000_0000, size: 0x10_0000 }),
    );
  }
  if (rc) throw new Error(`enable: ${rc}`);
  const deviceFds: number[] = [];
  for (const name of opts.devices ?? []) {
    const gfd = groupFds[(opts.groups ?? [1]).indexOf(Number(name.slice(5, 7)))] as number;
    const fd = u.ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, cstr(name));
    if (fd < 0) throw new Error(`GET_DEVICE_FD ${name}: ${fd}`);
    deviceFds.push(fd);
  }
  return { u, container, groupFds, deviceFds };
}
