import { describe, expect, it } from 'vitest';
import { Opal } from '../../src/firmware/opal.js';
import { TESTNIC_ID, TESTNIC_ID_VALUE } from '../../src/hw/devices/testnic.js';
import { RESET_MIN_HOLD } from '../../src/hw/reset_timing.js';
import type { Task } from '../../src/sim/scheduler.js';
import type { Sim } from '../../src/sim/sim.js';
import {
  decodePhbDiag,
  EEHSIM_DIAG_SIZE,
  OPAL_ASSERT_RESET,
  OPAL_DEASSERT_RESET,
  OPAL_EEH_NO_ERROR,
  OPAL_EEH_PE_DMA_ERROR,
  OPAL_EEH_PE_ERROR,
  OPAL_EEH_PE_MMIO_ERROR,
  OPAL_EEH_PHB_ERROR,
  OPAL_EEH_SEV_NO_ERROR,
  OPAL_EEH_SEV_PE_ER,
  OPAL_EEH_SEV_PHB_DEAD,
  OPAL_EEH_SEV_PHB_FENCED,
  OPAL_EEH_STOPPED_DMA_FREEZE,
  OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
  OPAL_EEH_STOPPED_MMIO_FREEZE,
  OPAL_EEH_STOPPED_NOT_FROZEN,
  OPAL_EEH_STOPPED_RESET,
  OPAL_EEH_STOPPED_TEMP_UNAVAIL,
  OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_TARGET,
  OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_ADDR,
  OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR,
  OPAL_ERR_INJECT_FUNC_IOA_LD_IO_ADDR,
  OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_DATA,
  OPAL_ERR_INJECT_FUNC_IOA_ST_IO_DATA,
  OPAL_ERR_INJECT_FUNC_IOA_ST_MEM_ADDR,
  OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR,
  OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64,
  OPAL_HARDWARE,
  OPAL_PARAMETER,
  OPAL_PHB_ERROR_DATA_TYPE_PHB3,
  OPAL_PHB_ERROR_DATA_TYPE_PHB4,
  OPAL_RESET_PCI_FUNDAMENTAL,
  OPAL_RESET_PCI_HOT,
  OPAL_RESET_PCI_IODA_TABLE,
  OPAL_RESET_PCI_LINK,
  OPAL_RESET_PHB_COMPLETE,
  OPAL_RESET_PHB_ERROR,
  OPAL_SUCCESS,
  OPAL_UNSUPPORTED,
} from '../../src/uapi/opal.js';
import { PCI_COMMAND, PCI_VENDOR_ID } from '../../src/uapi/pci_regs.js';
import { bar, machine } from '../hw/helpers.js';

/** Runs a firmware call as a process to completion; returns its result and the time it took. */
function call<T>(sim: Sim, task: Task<T>): { r: T; ns: number } {
  const t0 = sim.now;
  const p = sim.spawn('test', task);
  sim.run();
  if (!p.done) throw new Error('call did not finish');
  return { r: p.result as T, ns: sim.now - t0 };
}

function setup(model = 'phb3') {
  const m = machine({
    phbs: [
      {
        id: 0,
        model,
        devices: [
          { model: 'testnic', bdf: '00:01.0', name: 'nic0' },
          { model: 'testnic', bdf: '00:02.0', name: 'nic2' },
        ],
      },
    ],
  });
  const opal = new Opal(m.sim, m.hw);
  const pe = m.phb.peOf(m.nic);
  const run = <T>(t: Task<T>): T => call(m.sim, t).r;
  return { ...m, opal, pe, run };
}

const dmaFault = (s: ReturnType<typeof setup>) =>
  s.phb.dma(s.nic, 'write', 0x3000_0000, new Uint8Array(4));

describe('OPAL config access', () => {
  it('reads and writes config space, charging the call and a config cycle', () => {
    const { sim, opal, nic, run } = setup();
    const { r, ns } = call(sim, opal.pciConfigReadHalfWord(0, nic.bdf, PCI_VENDOR_ID));
    expect(r).toEqual({ rc: OPAL_SUCCESS, data: 0x1234 });
    expect(ns).toBe(sim.costs.ns('opal_call_null') + sim.costs.ns('config_access'));
    expect(run(opal.pciConfigReadWord(0, nic.bdf, 0)).data).toBe(0xee01_1234);
    expect(run(opal.pciConfigReadByte(0, nic.bdf, 1)).data).toBe(0x12);
    expect(run(opal.pciConfigWriteHalfWord(0, nic.bdf, PCI_COMMAND, 0))).toBe(OPAL_SUCCESS);
    expect(nic.config.read(PCI_COMMAND, 2)).toBe(0);
    expect(run(opal.pciConfigWriteByte(0, nic.bdf, PCI_COMMAND, 2))).toBe(OPAL_SUCCESS);
    expect(run(opal.pciConfigWriteWord(0, nic.bdf, 0x0c, 0x10))).toBe(OPAL_SUCCESS);
    expect(nic.config.read(PCI_COMMAND, 2)).toBe(2);
    expect(sim.accounting.count('config_access')).toBe(6);
  });

  it('answers a frozen PE with all 1s and success, as the PHB does', () => {
    const s = setup();
    dmaFault(s);
    expect(s.run(s.opal.pciConfigReadWord(0, s.nic.bdf, 0))).toEqual({
      rc: OPAL_SUCCESS,
      data: 0xffff_ffff,
    });
  });

  it('rejects bad arguments with OPAL_PARAMETER (all 1s data) and a broken PHB with OPAL_HARDWARE', () => {
    const s = setup();
    const { opal, nic, run, phb, sim } = s;
    expect(run(opal.pciConfigReadWord(5, nic.bdf, 0))).toEqual({
      rc: OPAL_PARAMETER,
      data: 0xffff_ffff,
    });
    expect(run(opal.pciConfigReadByte(0, 0x1_0000, 0)).rc).toBe(OPAL_PARAMETER);
    expect(run(opal.pciConfigReadWord(0, nic.bdf, 0x1000)).rc).toBe(OPAL_PARAMETER);
    expect(run(opal.pciConfigReadWord(0, nic.bdf, 2)).rc).toBe(OPAL_PARAMETER);
    expect(run(opal.pciConfigReadHalfWord(0, nic.bdf, 1)).data).toBe(0xffff);
    expect(run(opal.pciConfigWriteWord(1, nic.bdf, PCI_COMMAND, 0))).toBe(OPAL_PARAMETER);
    expect(run(opal.pciConfigWriteHalfWord(0, nic.bdf, 3, 0))).toBe(OPAL_PARAMETER);
    expect(nic.config.read(PCI_COMMAND, 2)).not.toBe(0);
    expect(sim.accounting.count('config_access')).toBe(0);
    phb.completeReset(true);
    expect(run(opal.pciConfigReadWord(0, nic.bdf, 0)).rc).toBe(OPAL_HARDWARE);
    phb.completeReset(false);
    phb.fence('test');
    expect(run(opal.pciConfigReadWord(0, nic.bdf, 0)).rc).toBe(OPAL_HARDWARE);
    phb.kill('test');
    expect(run(opal.pciConfigWriteWord(0, nic.bdf, 0, 0))).toBe(OPAL_HARDWARE);
    expect(sim.trace.count('fw.config_error')).toBe(10);
  });
});

describe('OPAL_PCI_EEH_FREEZE_STATUS / _STATUS2', () => {
  it('reports a running PE, charging the call and a PHB register read', () => {
    const { sim, opal, pe } = setup();
    const { r, ns } = call(sim, opal.pciEehFreezeStatus2(0, pe.number));
    expect(r).toEqual({
      rc: OPAL_SUCCESS,
      freezeState: OPAL_EEH_STOPPED_NOT_FROZEN,
      pciErrorType: OPAL_EEH_NO_ERROR,
      severity: OPAL_EEH_SEV_NO_ERROR,
    });
    expect(ns).toBe(sim.costs.ns('opal_call_null') + sim.costs.ns('phb_reg_read'));
    expect(sim.trace.find('fw.freeze_status')[0]?.fields).toMatchObject({
      rc: 'OPAL_SUCCESS',
      state: 0,
    });
  });

  it('reports MMIO+DMA frozen with the failing side as error type', () => {
    const s = setup();
    dmaFault(s);
    expect(s.run(s.opal.pciEehFreezeStatus2(0, s.pe.number))).toEqual({
      rc: OPAL_SUCCESS,
      freezeState: OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
      pciErrorType: OPAL_EEH_PE_DMA_ERROR,
      severity: OPAL_EEH_SEV_PE_ER,
    });
    // The first variant has no severity.
    expect(s.run(s.opal.pciEehFreezeStatus(0, s.pe.number))).toEqual({
      rc: OPAL_SUCCESS,
      freezeState: OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
      pciErrorType: OPAL_EEH_PE_DMA_ERROR,
    });
    s.phb.thaw(s.pe, true, true);
    s.hw.mmioWrite(0x8000_4000, 4, 0); // in the window, outside every BAR: no PE
    s.phb.configWrite(s.nic.bdf, PCI_COMMAND, 2, 0);
    s.hw.mmioRead(bar(s.nic, 0), 4); // in nic0's segment, nobody decodes: MMIO error
    expect(s.run(s.opal.pciEehFreezeStatus2(0, s.pe.number)).pciErrorType).toBe(
      OPAL_EEH_PE_MMIO_ERROR,
    );
  });

  it('reports MMIO-only and DMA-only freezes, reset, fence and a dead PHB', () => {
    const s = setup();
    const st = () => s.run(s.opal.pciEehFreezeStatus2(0, s.pe.number));
    s.phb.freezeSet(s.pe, true, false);
    expect(st()).toMatchObject({
      freezeState: OPAL_EEH_STOPPED_MMIO_FREEZE,
      pciErrorType: OPAL_EEH_PE_ERROR,
    });
    s.phb.thaw(s.pe, true, false);
    s.phb.freezeSet(s.pe, false, true);
    expect(st().freezeState).toBe(OPAL_EEH_STOPPED_DMA_FREEZE);
    s.phb.thaw(s.pe, false, true);
    s.phb.resetPe(s.pe, 'hot', true);
    expect(st().freezeState).toBe(OPAL_EEH_STOPPED_RESET);
    s.phb.resetPe(s.pe, 'hot', false);
    s.phb.completeReset(true);
    expect(st().freezeState).toBe(OPAL_EEH_STOPPED_TEMP_UNAVAIL);
    s.phb.completeReset(false);
    s.phb.fence('test');
    expect(st()).toEqual({
      rc: OPAL_SUCCESS,
      freezeState: OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
      pciErrorType: OPAL_EEH_PHB_ERROR,
      severity: OPAL_EEH_SEV_PHB_FENCED,
    });
    s.phb.kill('test');
    expect(st()).toEqual({
      rc: OPAL_HARDWARE,
      freezeState: OPAL_EEH_STOPPED_MMIO_DMA_FREEZE,
      pciErrorType: OPAL_EEH_PHB_ERROR,
      severity: OPAL_EEH_SEV_PHB_DEAD,
    });
  });

  it('rejects a bad PHB id or PE number with OPAL_PARAMETER', () => {
    const { opal, run, pe, sim } = setup();
    expect(run(opal.pciEehFreezeStatus(3, pe.number)).rc).toBe(OPAL_PARAMETER);
    expect(run(opal.pciEehFreezeStatus2(0, 256)).rc).toBe(OPAL_PARAMETER);
    expect(run(opal.pciEehFreezeStatus2(0, -1)).rc).toBe(OPAL_PARAMETER);
    expect(run(opal.pciEehFreezeStatus2(0.5, 1)).rc).toBe(OPAL_PARAMETER);
    expect(sim.accounting.count('phb_reg_read')).toBe(0);
  });
});

describe('OPAL_PCI_EEH_FREEZE_CLEAR / _SET', () => {
  it('clears MMIO then DMA, or both; sets by action', () => {
    const s = setup();
    const st = () => s.run(s.opal.pciEehFreezeStatus(0, s.pe.number)).freezeState;
    dmaFault(s);
    expect(s.run(s.opal.pciEehFreezeClear(0, s.pe.number, 1))).toBe(OPAL_SUCCESS);
    expect(st()).toBe(OPAL_EEH_STOPPED_DMA_FREEZE);
    expect(s.hw.mmioRead(bar(s.nic, 0) + TESTNIC_ID, 4)).toBe(TESTNIC_ID_VALUE);
    expect(s.run(s.opal.pciEehFreezeClear(0, s.pe.number, 2))).toBe(OPAL_SUCCESS);
    expect(st()).toBe(OPAL_EEH_STOPPED_NOT_FROZEN);
    expect(s.run(s.opal.pciEehFreezeSet(0, s.pe.number, 3))).toBe(OPAL_SUCCESS);
    expect(st()).toBe(OPAL_EEH_STOPPED_MMIO_DMA_FREEZE);
    expect(s.run(s.opal.pciEehFreezeClear(0, s.pe.number, 3))).toBe(OPAL_SUCCESS);
    expect(s.run(s.opal.pciEehFreezeSet(0, s.pe.number, 2))).toBe(OPAL_SUCCESS);
    expect(st()).toBe(OPAL_EEH_STOPPED_DMA_FREEZE);
    expect(s.sim.trace.find('fw.freeze_clear')).toHaveLength(3);
  });

  it('rejects bad PHB, PE and action with OPAL_PARAMETER and changes nothing', () => {
    const s = setup();
    dmaFault(s);
    for (const rc of [
      s.run(s.opal.pciEehFreezeClear(9, s.pe.number, 3)),
      s.run(s.opal.pciEehFreezeClear(0, 300, 3)),
      s.run(s.opal.pciEehFreezeClear(0, s.pe.number, 0)),
      s.run(s.opal.pciEehFreezeClear(0, s.pe.number, 4)),
      s.run(s.opal.pciEehFreezeSet(9, s.pe.number, 1)),
      s.run(s.opal.pciEehFreezeSet(0, 512, 1)),
      s.run(s.opal.pciEehFreezeSet(0, s.pe.number, 7)),
    ]) {
      expect(rc).toBe(OPAL_PARAMETER);
    }
    expect(s.pe.mmioFrozen && s.pe.dmaFrozen).toBe(true);
    const other = s.phb.peOf(s.hw.named('nic2')[0] as never);
    expect(other.frozen).toBe(false);
  });

  it('refuses to clear on a fenced or dead PHB (OPAL_HARDWARE); set fails only when dead', () => {
    const s = setup();
    s.phb.fence('test');
    expect(s.run(s.opal.pciEehFreezeClear(0, s.pe.number, 3))).toBe(OPAL_HARDWARE);
    expect(s.run(s.opal.pciEehFreezeSet(0, s.pe.number, 3))).toBe(OPAL_SUCCESS);
    s.phb.kill('test');
    expect(s.run(s.opal.pciEehFreezeSet(0, s.pe.number, 3))).toBe(OPAL_HARDWARE);
    expect(s.run(s.opal.pciEehFreezeClear(0, s.pe.number, 3))).toBe(OPAL_HARDWARE);
  });
});

describe('OPAL_PCI_RESET', () => {
  it('asserts and deasserts a PE reset, holding it at least the minimum time', () => {
    const s = setup();
    const assert = call(
      s.sim,
      s.opal.pciReset(0, s.pe.number, OPAL_RESET_PCI_FUNDAMENTAL, OPAL_ASSERT_RESET),
    );
    expect(assert.r).toBe(OPAL_SUCCESS);
    expect(s.pe.reset).toBe('fundamental');
    const deassert = call(
      s.sim,
      s.opal.pciReset(0, s.pe.number, OPAL_RESET_PCI_FUNDAMENTAL, OPAL_DEASSERT_RESET),
    );
    expect(deassert.r).toBe(OPAL_SUCCESS);
    expect(deassert.ns).toBe(RESET_MIN_HOLD.fundamental);
    expect(s.pe.reset).toBeUndefined();
    // Held long enough already: no wait. Deassert without assert: nothing to do.
    s.run(s.opal.pciReset(0, s.pe.number, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET));
    s.sim.run(s.sim.now + RESET_MIN_HOLD.hot);
    const quick = call(
      s.sim,
      s.opal.pciReset(0, s.pe.number, OPAL_RESET_PCI_HOT, OPAL_DEASSERT_RESET),
    );
    expect(quick.ns).toBe(s.sim.costs.ns('opal_call_null'));
    expect(s.run(s.opal.pciReset(0, s.pe.number, OPAL_RESET_PCI_HOT, OPAL_DEASSERT_RESET))).toBe(
      OPAL_SUCCESS,
    );
    expect(s.sim.trace.find('hw.pe.reset')).toHaveLength(4);
  });

  it('resets the whole PHB (clears the fence), clears an armed injection', () => {
    const s = setup();
    s.phb.fence('test');
    expect(s.run(s.opal.pciReset(0, 0, OPAL_RESET_PHB_COMPLETE, OPAL_ASSERT_RESET))).toBe(
      OPAL_SUCCESS,
    );
    expect(s.run(s.opal.pciReset(0, 0, OPAL_RESET_PHB_COMPLETE, OPAL_DEASSERT_RESET))).toBe(
      OPAL_SUCCESS,
    );
    expect(s.phb.fenced).toBe(false);
    expect(s.run(s.opal.pciReset(0, 0, OPAL_RESET_PHB_COMPLETE, OPAL_DEASSERT_RESET))).toBe(
      OPAL_SUCCESS,
    );
    s.run(
      s.opal.pciErrInject(
        0,
        s.pe.number,
        OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR,
        OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR,
        0n,
        0n,
      ),
    );
    expect(s.phb.armedTrap).toBeDefined();
    expect(s.run(s.opal.pciReset(0, 0, OPAL_RESET_PHB_ERROR, OPAL_ASSERT_RESET))).toBe(
      OPAL_SUCCESS,
    );
    expect(s.phb.armedTrap).toBeUndefined();
  });

  it('returns PARAMETER, UNSUPPORTED and HARDWARE where skiboot does', () => {
    const s = setup();
    const r = (phb: number, pe: number, scope: number, st: number) =>
      s.run(s.opal.pciReset(phb, pe, scope, st));
    expect(r(7, s.pe.number, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET)).toBe(OPAL_PARAMETER);
    expect(r(0, s.pe.number, OPAL_RESET_PCI_HOT, 2)).toBe(OPAL_PARAMETER);
    expect(r(0, 255, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET)).toBe(OPAL_PARAMETER); // reserved
    expect(r(0, 100, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET)).toBe(OPAL_PARAMETER); // empty
    expect(r(0, 999, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET)).toBe(OPAL_PARAMETER);
    expect(r(0, s.pe.number, OPAL_RESET_PCI_LINK, OPAL_ASSERT_RESET)).toBe(OPAL_UNSUPPORTED);
    expect(r(0, s.pe.number, OPAL_RESET_PCI_IODA_TABLE, OPAL_ASSERT_RESET)).toBe(OPAL_UNSUPPORTED);
    expect(r(0, s.pe.number, 42, OPAL_ASSERT_RESET)).toBe(OPAL_UNSUPPORTED);
    expect(s.pe.reset).toBeUndefined();
    s.phb.fence('test');
    expect(r(0, s.pe.number, OPAL_RESET_PCI_HOT, OPAL_ASSERT_RESET)).toBe(OPAL_HARDWARE);
    s.phb.kill('test');
    expect(r(0, 0, OPAL_RESET_PHB_COMPLETE, OPAL_ASSERT_RESET)).toBe(OPAL_HARDWARE);
  });
});

describe('OPAL_PCI_NEXT_ERROR and OPAL_PCI_GET_PHB_DIAG_DATA2', () => {
  it('reports no error, then the frozen PE, then PHB-level errors', () => {
    const s = setup();
    const next = () => s.run(s.opal.pciNextError(0));
    expect(next()).toEqual({
      rc: OPAL_SUCCESS,
      firstFrozenPe: -1,
      pciErrorType: OPAL_EEH_NO_ERROR,
      severity: OPAL_EEH_SEV_NO_ERROR,
    });
    dmaFault(s);
    expect(next()).toEqual({
      rc: OPAL_SUCCESS,
      firstFrozenPe: s.pe.number,
      pciErrorType: OPAL_EEH_PE_ERROR,
      severity: OPAL_EEH_SEV_PE_ER,
    });
    s.phb.fence('test');
    expect(next()).toMatchObject({
      pciErrorType: OPAL_EEH_PHB_ERROR,
      severity: OPAL_EEH_SEV_PHB_FENCED,
    });
    s.phb.kill('test');
    expect(next()).toMatchObject({ severity: OPAL_EEH_SEV_PHB_DEAD, firstFrozenPe: -1 });
    expect(s.run(s.opal.pciNextError(4)).rc).toBe(OPAL_PARAMETER);
  });

  it('fills the diag blob: what, when, where, which PE', () => {
    const s = setup();
    s.sim.run(7000);
    dmaFault(s);
    const buf = new DataView(new ArrayBuffer(EEHSIM_DIAG_SIZE + 16));
    expect(s.run(s.opal.pciGetPhbDiagData2(0, buf))).toBe(OPAL_SUCCESS);
    const d = decodePhbDiag(buf);
    expect(d).toMatchObject({
      version: 1,
      ioType: OPAL_PHB_ERROR_DATA_TYPE_PHB3,
      len: EEHSIM_DIAG_SIZE,
    });
    expect(d.records).toEqual([
      {
        seq: 1,
        t: 7000,
        pe: s.pe.number,
        bdf: s.nic.bdf,
        address: 0x3000_0000,
        source: 'dma',
        dir: 'write',
        kind: 'tce_invalid',
      },
    ]);
  });

  it('rejects a small buffer or bad PHB (PARAMETER), a dead PHB (HARDWARE)', () => {
    const s = setup();
    expect(s.run(s.opal.pciGetPhbDiagData2(0, new DataView(new ArrayBuffer(100))))).toBe(
      OPAL_PARAMETER,
    );
    const buf = new DataView(new ArrayBuffer(EEHSIM_DIAG_SIZE));
    expect(s.run(s.opal.pciGetPhbDiagData2(2, buf))).toBe(OPAL_PARAMETER);
    s.phb.kill('test');
    expect(s.run(s.opal.pciGetPhbDiagData2(0, buf))).toBe(OPAL_HARDWARE);
    const s4 = setup('phb4');
    expect(s4.run(s4.opal.pciGetPhbDiagData2(0, buf))).toBe(OPAL_SUCCESS);
    expect(decodePhbDiag(buf).ioType).toBe(OPAL_PHB_ERROR_DATA_TYPE_PHB4);
  });
});

describe('OPAL_PCI_ERR_INJECT', () => {
  const inject = (
    s: ReturnType<typeof setup>,
    pe: number,
    func: number,
    addr = 0n,
    mask = 0n,
    type = 0,
  ) => s.run(s.opal.pciErrInject(0, pe, type, func, addr, mask));

  it('arms an MMIO load error that freezes the PE on the next matching load', () => {
    const s = setup();
    const id = BigInt(bar(s.nic, 0) + TESTNIC_ID);
    expect(inject(s, s.pe.number, OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_DATA, id, ~0n)).toBe(
      OPAL_SUCCESS,
    );
    expect(s.pe.frozen).toBe(false);
    expect(s.hw.mmioRead(bar(s.nic, 0) + 4, 4)).not.toBe(0xffff_ffff);
    expect(s.hw.mmioRead(bar(s.nic, 0) + TESTNIC_ID, 4)).toBe(0xffff_ffff);
    expect(s.pe.firstError).toMatchObject({ kind: 'injected_data', source: 'mmio' });
    expect(s.run(s.opal.pciEehFreezeStatus(0, s.pe.number)).freezeState).toBe(3);
  });

  it('defaults to the PE resource when the address is not the PE’s (skiboot behaviour)', () => {
    const s = setup();
    expect(inject(s, s.pe.number, OPAL_ERR_INJECT_FUNC_IOA_ST_MEM_ADDR, 0x1234n, 0n, 1)).toBe(
      OPAL_SUCCESS,
    );
    // The PE's first MMIO segment (BAR2, 64 KiB, placed first) with a mask covering it.
    const seg = s.phb.segmentsOf(s.pe)[0];
    expect(seg?.base).toBe(bar(s.nic, 2));
    expect(s.phb.armedTrap).toMatchObject({
      addr: BigInt(bar(s.nic, 2)),
      mask: ~0xffffn & ((1n << 64n) - 1n),
      dir: 'store',
    });
    s.hw.mmioWrite(bar(s.nic, 0) + 0xff0, 4, 1); // another segment: no match
    expect(s.pe.frozen).toBe(false);
    s.hw.mmioWrite(bar(s.nic, 2) + 0xfff0, 4, 1);
    expect(s.pe.frozen).toBe(true);
    const t = setup();
    expect(inject(t, t.pe.number, OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_ADDR)).toBe(OPAL_SUCCESS);
    expect(t.phb.armedTrap).toMatchObject({ addr: 0n, mask: 0xffff_ffff_c000_0000n });
    expect(t.phb.dma(t.nic, 'write', 0x10, new Uint8Array(4))).toBe(false);
    expect(t.pe.firstError?.kind).toBe('injected_addr');
    expect(inject(t, t.pe.number, OPAL_ERR_INJECT_FUNC_IOA_DMA_RD_TARGET, 0x5000n, ~0n)).toBe(
      OPAL_SUCCESS,
    );
    expect(t.phb.armedTrap).toMatchObject({ kind: 'injected_target_abort', addr: 0x5000n });
    expect(inject(t, t.pe.number, OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR, 0x999n)).toBe(OPAL_SUCCESS);
    expect(t.phb.armedTrap).toMatchObject({
      source: 'config',
      addr: BigInt(t.nic.bdf),
      mask: 0xffffn,
    });
  });

  it('rejects bad PHB, type, PE, function with OPAL_PARAMETER', () => {
    const s = setup();
    expect(s.run(s.opal.pciErrInject(3, s.pe.number, 0, 0, 0n, 0n))).toBe(OPAL_PARAMETER);
    expect(inject(s, s.pe.number, 0, 0n, 0n, 2)).toBe(OPAL_PARAMETER);
    expect(inject(s, 255, 0)).toBe(OPAL_PARAMETER);
    expect(inject(s, 256, 0)).toBe(OPAL_PARAMETER);
    expect(inject(s, s.pe.number, OPAL_ERR_INJECT_FUNC_IOA_LD_IO_ADDR)).toBe(OPAL_PARAMETER);
    expect(inject(s, s.pe.number, OPAL_ERR_INJECT_FUNC_IOA_ST_IO_DATA)).toBe(OPAL_PARAMETER);
    expect(inject(s, s.pe.number, 20)).toBe(OPAL_PARAMETER);
    // An empty PE has no device (config) and no segment (MMIO): PARAMETER; no DMA window: UNSUPPORTED.
    expect(inject(s, 100, OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR)).toBe(OPAL_PARAMETER);
    expect(inject(s, 100, OPAL_ERR_INJECT_FUNC_IOA_ST_MEM_ADDR)).toBe(OPAL_PARAMETER);
    expect(inject(s, 100, OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_ADDR)).toBe(OPAL_UNSUPPORTED);
    expect(s.phb.armedTrap).toBeUndefined();
    s.phb.kill('test');
    expect(inject(s, s.pe.number, 0)).toBe(OPAL_HARDWARE);
  });

  it('PHB4 injects config errors only', () => {
    const s = setup('phb4');
    expect(
      inject(
        s,
        s.pe.number,
        OPAL_ERR_INJECT_FUNC_IOA_LD_MEM_DATA,
        0n,
        0n,
        OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR64,
      ),
    ).toBe(OPAL_UNSUPPORTED);
    expect(inject(s, s.pe.number, OPAL_ERR_INJECT_FUNC_IOA_DMA_WR_ADDR)).toBe(OPAL_UNSUPPORTED);
    expect(s.phb.armedTrap).toBeUndefined();
    expect(
      inject(
        s,
        s.pe.number,
        OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR,
        0n,
        0n,
        OPAL_ERR_INJECT_TYPE_IOA_BUS_ERR,
      ),
    ).toBe(OPAL_SUCCESS);
    expect(inject(s, 511, OPAL_ERR_INJECT_FUNC_IOA_LD_CFG_ADDR)).toBe(OPAL_PARAMETER);
    s.phb.configRead(s.nic.bdf, 0, 4);
    expect(s.pe.firstError).toMatchObject({ source: 'config', kind: 'injected_addr' });
  });
});
