/**
 * The hardware + firmware demo (`npm start` until the full stack exists):
 * build a small machine, run a DMA workload on a testnic, inject a DMA error
 * through OPAL, and show EEH at the bottom of the stack - the PE frozen
 * (OPAL freeze state 3), loads returning all 1s, stores dropped, DMA
 * blocked without touching memory - then thaw, reset, restore config and
 * see the device work again. A host-driver-like process does the MMIO and
 * OPAL calls and pays their virtual-time costs.
 */
import { Opal } from '../firmware/opal.js';
import { assignResources } from '../hw/assign.js';
import {
  TESTNIC_CONTROL,
  TESTNIC_CONTROL_ENABLE,
  TESTNIC_DMA_DEV_OFF,
  TESTNIC_DMA_FROM_DEVICE,
  TESTNIC_DMA_IOVA_HI,
  TESTNIC_DMA_IOVA_LO,
  TESTNIC_DMA_LEN,
  TESTNIC_DMA_TO_DEVICE,
  TESTNIC_DOORBELL,
  TESTNIC_ID,
  TESTNIC_LINK_STATUS,
  TESTNIC_SCRATCH,
  TESTNIC_STATUS,
  TESTNIC_STATUS_DMA_DONE,
  TESTNIC_STATUS_DMA_ERROR,
  type TestNic,
} from '../hw/devices/testnic.js';
import type { Hardware } from '../hw/hardware.js';
import type { Phb } from '../hw/phb.js';
import { TCE_PCI_READ, TCE_PCI_WRITE } from '../hw/tce.js';
import { buildHardware, type TopologySpec } from '../hw/topology.js';
import { sleep, type Task } from '../sim/scheduler.js';
import { Sim } from '../sim/sim.js';
import { formatNs, us } from '../sim/time.js';
import { hpa, iova } from '../uapi/ids.js';
import {
  decodePhbDiag,
  EEHSIM_DIAG_SIZE,
  OPAL_ASSERT_RESET,
  OPAL_DEASSERT_RESET,
  OPAL_EEH_ACTION_CLEAR_FREEZE_DMA,
  OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO,
  OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_ADDR,
  OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR,
  OPAL_RESET_PCI_HOT,
  opalRcName,
} from '../uapi/opal.js';
import { PCI_COMMAND, PCI_VENDOR_ID } from '../uapi/pci_regs.js';

export const HW_DEMO_TOPOLOGY: TopologySpec = {
  phbs: [
    {
      id: 0,
      model: 'phb3',
      devices: [
        { model: 'testnic', bdf: '00:01.0', name: 'nic0' },
        { model: 'dual_function', bdf: '00:02.0', name: 'dual0' },
        { model: 'pcie_switch', bdf: '00:03.0', name: 'sw0', ports: 2 },
        { model: 'testnic', bdf: '02:00.0', name: 'nic1' },
      ],
    },
  ],
};

const IOVA_BASE = 0x1000_0000;
const PAGES = 8;
const PAGE = 4096;

export interface HwDemoResult {
  readonly seed: number;
  readonly topology: { pe: number; kind: string; parent: number | null; functions: string[] }[];
  readonly workload: { dmas: number; bytes: number; verified: boolean; time: string };
  readonly falsePositive: { linkStatus: string; freezeState: number };
  readonly inject: { rc: string; iova: string };
  readonly frozen: {
    dmaBlocked: boolean;
    memoryUnchanged: boolean;
    freezeState: number;
    pciErrorType: number;
    severity: number;
    mmioLoads: string[];
    configVendor: string;
    droppedStores: number;
    deviceScratchAfterStore: string;
    nextErrorPe: number;
    diag: { kind: string; source: string; dir: string; address: string; t: number }[];
  };
  readonly recovery: { states: number[]; resetRc: string[]; idAfter: string; dmaAfter: boolean };
  readonly virtualTime: string;
  readonly traceCounts: Record<string, number>;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Runs the demo; same seed, same summary and result (and same trace). */
export function runHwDemo(opts: { seed?: number } = {}): { summary: string; result: HwDemoResult } {
  const { summary, result } = runHwDemoSim(opts.seed ?? 1);
  return { summary, result };
}

/** The demo with its Sim (trace, accounting) for tests and tools. */
export function runHwDemoSim(seed: number): { sim: Sim; summary: string; result: HwDemoResult } {
  const sim = new Sim({ seed });
  const hw = buildHardware(sim, HW_DEMO_TOPOLOGY);
  assignResources(hw);
  const opal = new Opal(sim, hw);
  const proc = sim.spawn('hw-demo', demo(sim, hw, opal, seed), 'host');
  sim.run();
  if (!proc.done || proc.result === undefined) throw new Error('hw demo did not finish');
  const result = proc.result;
  return { sim, summary: summarize(result), result };
}

function* demo(sim: Sim, hw: Hardware, opal: Opal, seed: number): Task<HwDemoResult> {
  const nic = hw.named('nic0')[0] as TestNic;
  const nic1 = hw.named('nic1')[0] as TestNic;
  const phb = hw.phbOf(nic);
  const pe = phb.peOf(nic);
  const bar0 = nic.barAddress(nic.bars[0] as (typeof nic.bars)[number]);
  const reg = (off: number): number => bar0 + off;
  const rd = function* (addr: number): Task<number> {
    yield* sim.charge('mmio_read');
    return hw.mmioRead(addr, 4);
  };
  const wr = function* (addr: number, v: number): Task<void> {
    yield* sim.charge('mmio_write');
    hw.mmioWrite(addr, 4, v);
  };
  /** Programs one DMA and polls STATUS until it completes; all 1s means the device is gone. */
  const dma = function* (dir: number, io: number, devOff: number, len: number): Task<boolean> {
    yield* wr(reg(TESTNIC_STATUS), TESTNIC_STATUS_DMA_DONE | TESTNIC_STATUS_DMA_ERROR);
    yield* wr(reg(TESTNIC_DMA_IOVA_LO), io);
    yield* wr(reg(TESTNIC_DMA_IOVA_HI), 0);
    yield* wr(reg(TESTNIC_DMA_LEN), len);
    yield* wr(reg(TESTNIC_DMA_DEV_OFF), devOff);
    yield* wr(reg(TESTNIC_DOORBELL), dir);
    for (let i = 0; i < 1000; i++) {
      const st = yield* rd(reg(TESTNIC_STATUS));
      if (st === 0xffff_ffff) return false;
      if (st & TESTNIC_STATUS_DMA_ERROR) return false;
      if (st & TESTNIC_STATUS_DMA_DONE) return true;
      yield* sleep(us(1));
    }
    return false;
  };

  // Host memory for the buffers, mapped read/write in the PE's TCE table.
  const region = hw.memory.alloc(2 * PAGES * PAGE, 'hw-demo');
  for (let p = 0; p < 2 * PAGES; p++) {
    pe.tce?.put(
      iova(IOVA_BASE + p * PAGE),
      hpa(region.base + p * PAGE),
      TCE_PCI_READ | TCE_PCI_WRITE,
    );
  }
  const src = new Uint8Array(PAGES * PAGE);
  for (let i = 0; i < src.length; i += 4) {
    new DataView(src.buffer).setUint32(i, sim.rng.u32(), true);
  }
  hw.memory.write(region.base, src);

  // 1. Workload: each page to the device buffer and back into the second half.
  // Config space is saved first, as Linux does when it adds a device (eeh_save_bars).
  const saved = yield* saveConfig(opal, phb, nic.bdf);
  yield* wr(reg(TESTNIC_CONTROL), TESTNIC_CONTROL_ENABLE);
  const t0 = sim.now;
  let dmas = 0;
  let ok = true;
  for (let p = 0; p < PAGES; p++) {
    ok = (yield* dma(TESTNIC_DMA_TO_DEVICE, IOVA_BASE + p * PAGE, p * PAGE, PAGE)) && ok;
    ok =
      (yield* dma(TESTNIC_DMA_FROM_DEVICE, IOVA_BASE + (PAGES + p) * PAGE, p * PAGE, PAGE)) && ok;
    dmas += 2;
  }
  const verified = ok && sameBytes(hw, region.base + PAGES * PAGE, src.length, src);
  const workloadTime = formatNs(sim.now - t0);

  // 2. The false positive: nic1's link is down, its link_status legitimately reads all 1s.
  const nic1Link = yield* rd(
    nic1.barAddress(nic1.bars[0] as (typeof nic1.bars)[number]) + TESTNIC_LINK_STATUS,
  );
  const fp = yield* opal.pciEehFreezeStatus(phb.id, phb.peOf(nic1).number);

  // 3. Inject a DMA write address error on nic0's PE and DMA there.
  const badIova = IOVA_BASE + (PAGES + 3) * PAGE;
  const injectRc = yield* opal.pciErrInject(
    phb.id,
    pe.number,
    OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR,
    OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_ADDR,
    BigInt(badIova),
    (1n << 64n) - 1n,
  );
  const before = hw.memory.digest();
  const dmaOk = yield* dma(TESTNIC_DMA_FROM_DEVICE, badIova, 0, PAGE);
  const memoryUnchanged = hw.memory.digest() === before;

  // 4. What the frozen PE looks like.
  const status = yield* opal.pciEehFreezeStatus2(phb.id, pe.number);
  const loads = [yield* rd(reg(TESTNIC_ID)), yield* rd(reg(TESTNIC_SCRATCH))].map(hex);
  const vendor = yield* opal.pciConfigReadHalfWord(phb.id, nic.bdf, PCI_VENDOR_ID);
  const scratchBefore = nic.regs.get(TESTNIC_SCRATCH);
  yield* wr(reg(TESTNIC_SCRATCH), 0x1234_5678);
  yield* wr(reg(TESTNIC_DOORBELL), TESTNIC_DMA_FROM_DEVICE);
  const scratchAfter = nic.regs.get(TESTNIC_SCRATCH);
  const next = yield* opal.pciNextError(phb.id);
  const diagBuf = new DataView(new ArrayBuffer(EEHSIM_DIAG_SIZE));
  yield* opal.pciGetPhbDiagData2(phb.id, diagBuf);
  const diag = decodePhbDiag(diagBuf).records.map((r) => ({
    kind: r.kind,
    source: r.source,
    dir: r.dir,
    address: `0x${r.address.toString(16)}`,
    t: r.t,
  }));

  // 5. Recovery as the host would drive it: thaw MMIO, then DMA; hot reset; restore config.
  const states: number[] = [status.freezeState];
  yield* opal.pciEehFreezeClear(phb.id, pe.number, OPAL_EEH_ACTION_CLEAR_FREEZE_MMIO);
  states.push((yield* opal.pciEehFreezeStatus(phb.id, pe.number)).freezeState);
  yield* opal.pciEehFreezeClear(phb.id, pe.number, OPAL_EEH_ACTION_CLEAR_FREEZE_DMA);
  states.push((yield* opal.pciEehFreezeStatus(phb.id, pe.number)).freezeState);
  const resetRc = [yield* opal.pciReset(phb.id, pe.number, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET)];
  states.push((yield* opal.pciEehFreezeStatus(phb.id, pe.number)).freezeState);
  yield* sim.charge('pe_reset_hold');
  resetRc.push(yield* opal.pciReset(phb.id, pe.number, OPAL_RESET_PCI_HOT, OPAL_DEASSERT_RESET));
  yield* sim.charge('pe_reset_settle');
  yield* restoreConfig(opal, phb, nic.bdf, saved);
  states.push((yield* opal.pciEehFreezeStatus(phb.id, pe.number)).freezeState);
  const idAfter = hex(yield* rd(reg(TESTNIC_ID)));
  yield* wr(reg(TESTNIC_CONTROL), TESTNIC_CONTROL_ENABLE);
  const dmaAfter =
    (yield* dma(TESTNIC_DMA_TO_DEVICE, IOVA_BASE, 0, PAGE)) &&
    (yield* dma(TESTNIC_DMA_FROM_DEVICE, badIova, 0, PAGE)) &&
    sameBytes(hw, region.base + (PAGES + 3) * PAGE, PAGE, src);

  return {
    seed,
    topology: phb.pes().map((p) => ({
      pe: p.number,
      kind: p.kind,
      parent: p.parent?.number ?? null,
      functions: p.functions.map((f) => f.label),
    })),
    workload: { dmas, bytes: dmas * PAGE, verified, time: workloadTime },
    falsePositive: { linkStatus: hex(nic1Link), freezeState: fp.freezeState },
    inject: { rc: opalRcName(injectRc), iova: `0x${badIova.toString(16)}` },
    frozen: {
      dmaBlocked: !dmaOk,
      memoryUnchanged,
      freezeState: status.freezeState,
      pciErrorType: status.pciErrorType,
      severity: status.severity,
      mmioLoads: loads,
      configVendor: `0x${vendor.data.toString(16)}`,
      droppedStores: pe.stats.droppedStores,
      deviceScratchAfterStore: scratchAfter === scratchBefore ? 'unchanged' : hex(scratchAfter),
      nextErrorPe: next.firstFrozenPe,
      diag,
    },
    recovery: { states, resetRc: resetRc.map(opalRcName), idAfter, dmaAfter },
    virtualTime: formatNs(sim.now),
    traceCounts: Object.fromEntries([...sim.trace.counts].sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** Whether host memory at `at` holds the first `len` bytes of `expect`. */
function sameBytes(hw: Hardware, at: number, len: number, expect: Uint8Array): boolean {
  const got = new Uint8Array(len);
  hw.memory.read(hpa(at), got);
  return got.every((b, i) => b === expect[i]);
}

/** The first 64 bytes of config space, as Linux's eeh_save_bars keeps them. */
function* saveConfig(opal: Opal, phb: Phb, bdf: number): Task<number[]> {
  const out: number[] = [];
  for (let off = 0; off < 64; off += 4) {
    out.push((yield* opal.pciConfigReadWord(phb.id, bdf, off)).data);
  }
  return out;
}

function* restoreConfig(opal: Opal, phb: Phb, bdf: number, saved: number[]): Task<void> {
  for (let i = 15; i >= 0; i--) {
    if (i * 4 === PCI_COMMAND) continue;
    yield* opal.pciConfigWriteWord(phb.id, bdf, i * 4, saved[i] as number);
  }
  yield* opal.pciConfigWriteWord(phb.id, bdf, PCI_COMMAND, saved[PCI_COMMAND / 4] as number);
}

function summarize(r: HwDemoResult): string {
  const f = r.frozen;
  const lines = [
    `eehsim hardware demo (seed ${r.seed})`,
    `topology: PHB0 (phb3), ${r.topology.length} PEs`,
    ...r.topology.map(
      (p) =>
        `  PE ${p.pe} (${p.kind}${p.parent === null ? '' : `, parent PE ${p.parent}`}): ${p.functions.join(', ')}`,
    ),
    `workload: ${r.workload.dmas} DMAs through the TCE IOMMU, ${r.workload.bytes / 1024} KiB, data ${r.workload.verified ? 'verified' : 'MISMATCH'}, ${r.workload.time}`,
    `false positive: nic1 link_status reads ${r.falsePositive.linkStatus} (link down) but its PE is not frozen (state ${r.falsePositive.freezeState})`,
    `inject: OPAL_PCI_ERR_INJECT DMA write address error at IOVA ${r.inject.iova} -> ${r.inject.rc}`,
    `fault: DMA ${f.dmaBlocked ? 'blocked' : 'NOT blocked'}, host memory ${f.memoryUnchanged ? 'unchanged' : 'CHANGED'}`,
    `frozen: freeze state ${f.freezeState} (3 = MMIO+DMA), error type ${f.pciErrorType} (5 = PE DMA), severity ${f.severity}`,
    `  MMIO loads ID/SCRATCH: ${f.mmioLoads.join(' ')}; config vendor id ${f.configVendor}`,
    `  stores dropped: ${f.droppedStores}; device scratch register ${f.deviceScratchAfterStore}`,
    `  next error: PE ${f.nextErrorPe}; diag: ${f.diag.map((d) => `${d.source} ${d.dir} ${d.kind} at ${d.address}`).join('; ')}`,
    `recovery: freeze states ${r.recovery.states.join(' -> ')} (clear MMIO, clear DMA, reset asserted, restored); reset ${r.recovery.resetRc.join('/')}`,
    `after: ID ${r.recovery.idAfter}, DMA ${r.recovery.dmaAfter ? 'works again' : 'STILL FAILING'}`,
    `virtual time: ${r.virtualTime}`,
  ];
  return `${lines.join('\n')}\n`;
}
