import { describe, expect, it } from 'vitest';
import { GuestRtas, rtasBusyDelay, rtasBusyDelayTime } from '../../src/guest/rtas.js';
import {
  EEH_OPT_FREEZE_PE,
  EEH_RESET_DEACTIVATE,
  EEH_RESET_FUNDAMENTAL,
  EEH_RESET_HOT,
  EEH_STATE_DMA_ACTIVE,
  EEH_STATE_MMIO_ACTIVE,
  EEH_STATE_MMIO_ENABLED,
  EEH_STATE_NOT_SUPPORT,
  EEH_STATE_RESET_ACTIVE,
  EEH_STATE_UNAVAILABLE,
} from '../../src/kernel/eeh_consts.js';
import { ms, NS_PER_MS } from '../../src/sim/time.js';
import { H_RTAS } from '../../src/uapi/hcall.js';
import { RTAS_IBM_READ_SLOT_RESET_STATE2 } from '../../src/uapi/rtas.js';
import { FakeGuestPlatform, QEMU_TOKENS, TEST_BUID } from './fake_platform.js';
import { bootGuest, runTask } from './helpers.js';

describe('guest rtas_call()', () => {
  it('marshals struct rtas_args big-endian in guest RAM and reads the results back', () => {
    const fake = new FakeGuestPlatform();
    const rtas = new GuestRtas(fake.sim, fake);
    const args = [0x0000_0800, 0x0800_0000, 0x2000_0000];
    const r = runTask({ sim: fake.sim }, rtas.call(RTAS_IBM_READ_SLOT_RESET_STATE2, 4, args));
    expect(r).toEqual({ status: 0, outputs: [0, 1, 1000] });
    const v = new DataView(fake.ram.bytes.buffer, rtas.argsGpa, 88);
    expect(v.getUint32(0)).toBe(RTAS_IBM_READ_SLOT_RESET_STATE2);
    expect(v.getUint32(4)).toBe(3);
    expect(v.getUint32(8)).toBe(4);
    expect([v.getUint32(12), v.getUint32(16), v.getUint32(20)]).toEqual(args);
    // rets start at args[nargs]
    expect([v.getUint32(24), v.getUint32(28)]).toEqual([0, 0]);
    expect(v.getBigUint64(80)).toBe(0xc000_0000_0000_0000n + BigInt(rtas.argsGpa + 24));
    expect(fake.hcalls.get(H_RTAS)).toBe(1);
    // guest_rtas_entry + the exit path the fake charges
    expect(fake.sim.accounting.count('guest_rtas_entry')).toBe(1);
    expect(rtas.calls('ibm,read-slot-reset-state2')).toBe(1);
  });

  it('returns -1 without a hypercall for a service the device tree lacks', () => {
    const fake = new FakeGuestPlatform();
    const rtas = new GuestRtas(fake.sim, fake);
    expect(rtas.token('ibm,errinjct')).toBe(-1);
    const r = runTask({ sim: fake.sim }, rtas.callByName('ibm,errinjct', 1, [1, 2, 3]));
    expect(r).toEqual({ status: -1, outputs: [] });
    expect(fake.hcalls.size).toBe(0);
  });

  it('serialises concurrent callers on the one argument buffer (rtas_lock)', () => {
    const fake = new FakeGuestPlatform();
    const rtas = new GuestRtas(fake.sim, fake);
    const tok = QEMU_TOKENS['ibm,get-config-addr-info2'] as number;
    const hi = Number(TEST_BUID >> 32n);
    const lo = Number(TEST_BUID & 0xffff_ffffn);
    const a = fake.sim.spawn('a', rtas.call(tok, 2, [0x0001_0800, hi, lo, 0]), 'vm0');
    const b = fake.sim.spawn('b', rtas.call(tok, 2, [0x0002_0800, hi, lo, 1]), 'vm0');
    fake.sim.run();
    expect(a.result).toEqual({ status: 0, outputs: [0x0001_0001] });
    expect(b.result).toEqual({ status: 0, outputs: [2] });
  });

  it('rtas_busy_delay_time / rtas_busy_delay follow rtas.c', () => {
    expect([-2, 9900, 9901, 9902, 9905, 0, -3, 9906].map(rtasBusyDelayTime)).toEqual([
      1, 1, 10, 100, 100000, 0, 0, 0,
    ]);
    const fake = new FakeGuestPlatform();
    const g = { sim: fake.sim };
    const t0 = fake.sim.now;
    expect(runTask(g, rtasBusyDelay(9905))).toBe(true);
    expect(fake.sim.now - t0).toBe(ms(1000)); // clamped to 1 s
    expect(runTask(g, rtasBusyDelay(0))).toBe(false);
    expect(runTask(g, rtasBusyDelay(-2))).toBe(true);
  });
});

/** Sets what read-slot-reset-state2 answers, then runs get_state on the device's PE. */
function stateFor(rets: number[]) {
  const g = bootGuest();
  g.fake.override.set('ibm,read-slot-reset-state2', () => rets);
  const pe = g.dev.edev.pe;
  if (!pe) throw new Error('no PE');
  return runTask(g, g.kernel.ops.getState(pe));
}

describe('pseries_eeh_get_state: RTAS state -> EEH_STATE_* (eeh_pseries.c)', () => {
  const ACTIVE = EEH_STATE_MMIO_ACTIVE | EEH_STATE_DMA_ACTIVE;
  it.each([
    ['0 normal', [0, 0, 1, 1000], ACTIVE, 0],
    ['1 reset', [0, 1, 1, 1000], EEH_STATE_RESET_ACTIVE | ACTIVE, 0],
    ['2 stopped', [0, 2, 1, 1000], 0, 0],
    ['4 DMA stopped', [0, 4, 1, 1000], EEH_STATE_MMIO_ENABLED, 0],
    ['5 unavailable with a delay', [0, 5, 1, 1000], EEH_STATE_UNAVAILABLE, 1000],
    ['5 unavailable without a delay', [0, 5, 1, 0], EEH_STATE_NOT_SUPPORT, 0],
    ['EEH not supported', [0, 0, 0, 1000], EEH_STATE_NOT_SUPPORT, 0],
    ['unknown state 3', [0, 3, 1, 1000], EEH_STATE_NOT_SUPPORT, 0],
    ['RTAS parameter error', [-3, 0, 0, 0], -3, 0],
  ])('%s', (_n, rets, state, delayMs) => {
    expect(stateFor(rets)).toEqual({ state, delayMs });
  });

  it('a normal PE reads active but not *_ENABLED, unlike powernv', () => {
    const g = bootGuest();
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    const { state } = runTask(g, g.kernel.ops.getState(pe));
    expect(state & EEH_STATE_MMIO_ENABLED).toBe(0);
  });
});

describe('pseries eeh_ops', () => {
  it('PE address discovery: get-config-addr-info2 function 1 (mode) then 0 (address)', () => {
    const g = bootGuest();
    const calls = g.fake.calls('ibm,get-config-addr-info2');
    expect(calls.map((c) => c.args[3])).toEqual([1, 0]);
    expect(calls[0]?.args[0]).toBe(0x0000_0800); // bus 0, devfn 0x08
    expect(g.dev.peAddr).toBe(1); // QEMU: (bus << 16) + 1
    expect(g.dev.edev.pe?.label).toBe('PHB#0-PE#1');
    // then EEH is enabled on that PE
    const opt = g.fake.calls('ibm,set-eeh-option')[0];
    expect(opt?.args).toEqual([1, Number(TEST_BUID >> 32n), Number(TEST_BUID & 0xffff_ffffn), 1]);
  });

  it('a device whose PE mode is "none" gets no PE', () => {
    const g = bootGuest({ fake: { peMode: 0 } });
    expect(g.dev.peAddr).toBe(-2);
    expect(g.dev.edev.pe).toBeUndefined();
    expect(g.kernel.eeh.enabled).toBe(false);
  });

  it('set_option(FREEZE_PE) is not supported by PAPR: 0, no RTAS call', () => {
    const g = bootGuest();
    const n = g.fake.rtasLog.length;
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    expect(runTask(g, g.kernel.ops.setOption(pe, EEH_OPT_FREEZE_PE))).toBe(0);
    expect(runTask(g, g.kernel.ops.setOption(pe, 7))).toBe(-22);
    expect(g.fake.rtasLog.length).toBe(n);
  });

  it('reset: fundamental refused with -8 is retried as hot; hold after assert, settle after deassert', () => {
    const g = bootGuest({ fake: { noFundamentalReset: true } });
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    const t0 = g.sim.now;
    expect(runTask(g, g.kernel.ops.reset(pe, EEH_RESET_FUNDAMENTAL))).toBe(0);
    const t1 = g.sim.now;
    expect(g.fake.calls('ibm,set-slot-reset').map((c) => [c.args[3], c.rets[0]])).toEqual([
      [3, -8],
      [1, 0],
    ]);
    expect(g.fake.pe.reset).toBe(true);
    expect(t1 - t0).toBeGreaterThanOrEqual(250 * NS_PER_MS);
    expect(t1 - t0).toBeLessThan(251 * NS_PER_MS);
    expect(runTask(g, g.kernel.ops.reset(pe, EEH_RESET_DEACTIVATE))).toBe(0);
    expect(g.sim.now - t1).toBeGreaterThanOrEqual(1800 * NS_PER_MS);
    expect(g.sim.now - t1).toBeLessThan(1801 * NS_PER_MS);
    expect(g.fake.pe.reset).toBe(false);
    expect(g.kernel.ops.stats.fundamentalFallbacks).toBe(1);
  });

  it('reset hold and settle come from the cost table', () => {
    const g = bootGuest();
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    const t0 = g.sim.now;
    runTask(g, g.kernel.ops.reset(pe, EEH_RESET_HOT));
    const hold = g.sim.now - t0;
    expect(hold).toBeGreaterThanOrEqual(g.sim.costs.ns('pe_reset_hold'));
    expect(hold - g.sim.costs.ns('pe_reset_hold')).toBeLessThan(ms(1));
  });

  it('configure-pe: 990x statuses are retried (rtas_busy_delay) until success', () => {
    const g = bootGuest({ fake: { configureSequence: [9901, 9901, 0] } });
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    const t0 = g.sim.now;
    expect(runTask(g, g.kernel.ops.configureBridge(pe))).toBe(0);
    expect(g.fake.calls('ibm,configure-pe')).toHaveLength(3);
    expect(g.sim.now - t0).toBeGreaterThanOrEqual(ms(20));
    expect(g.kernel.ops.stats.configureRetries).toBe(2);
  });

  it('configure-pe: gives up with -EIO once the 200 ms budget is spent; long hints capped at 100 ms', () => {
    const g = bootGuest({ fake: { configureSequence: [9905, 9905, 9905, 9905] } });
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    const t0 = g.sim.now;
    expect(runTask(g, g.kernel.ops.configureBridge(pe))).toBe(-5);
    // budget 200 -> 100 (sleep 100 ms) -> 0 (sleep 100 ms) -> loop ends: two calls
    expect(g.fake.calls('ibm,configure-pe')).toHaveLength(2);
    const took = g.sim.now - t0;
    expect(took).toBeGreaterThanOrEqual(ms(200));
    expect(took).toBeLessThan(ms(201));
  });

  it('configure-pe: a parameter error is -EINVAL, other errors -EIO', () => {
    const g = bootGuest({ fake: { configureSequence: [-3, -1] } });
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    expect(runTask(g, g.kernel.ops.configureBridge(pe))).toBe(-22);
    expect(runTask(g, g.kernel.ops.configureBridge(pe))).toBe(-5);
  });

  it('config accessors: ibm,read-pci-config / write-pci-config with the PAPR config address', () => {
    const g = bootGuest();
    const v = runTask(g, g.kernel.pciReadConfig(g.dev.pdev, 0, 4));
    expect(v).toBe(0xee01_1234);
    const last = g.fake.calls('ibm,read-pci-config').at(-1);
    expect(last?.args).toEqual([
      0x0000_0800,
      Number(TEST_BUID >> 32n),
      Number(TEST_BUID & 0xffff_ffffn),
      4,
    ]);
    // extended register 0x100: bits 28..31 of the config address
    runTask(g, g.kernel.pciReadConfig(g.dev.pdev, 0x100, 4));
    expect(g.fake.calls('ibm,read-pci-config').at(-1)?.args[0]).toBe(0x1000_0800);
  });

  it('get_log: with EEH_ENABLE_IO_FOR_LOG thaws MMIO, dumps config, then slot-error-detail', () => {
    const g = bootGuest();
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    g.fake.freeze();
    runTask(g, g.kernel.ops.getLog(pe, 1));
    expect(g.fake.calls('ibm,set-eeh-option').at(-1)?.args[3]).toBe(2);
    expect(g.fake.pe.mmioFrozen).toBe(false);
    const sed = g.fake.calls('ibm,slot-error-detail');
    expect(sed).toHaveLength(1);
    expect(sed[0]?.args[7]).toBe(1);
    expect(sed[0]?.args[4]).toBeGreaterThan(0); // a driver log was passed
    expect(sed[0]?.rets[0]).toBe(1); // QEMU: no errors found
  });

  it('err_inject without ibm,errinjct: MMIO functions break the device (memory off + load), others -ERANGE', () => {
    const g = bootGuest();
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    expect(runTask(g, g.kernel.ops.errInject(pe, 0, 12, 0n, 0n))).toBe(-34);
    expect(runTask(g, g.kernel.ops.errInject(pe, 2, 0, 0n, 0n))).toBe(-22);
    expect(g.fake.frozen).toBe(false);
    expect(runTask(g, g.kernel.ops.errInject(pe, 0, 0, 0n, 0n))).toBe(0);
    expect(g.fake.frozen).toBe(true);
  });

  it('err_inject with ibm,errinjct: open, IOA bus error work buffer, inject, close', () => {
    const g = bootGuest({
      fake: {
        tokens: {
          ...QEMU_TOKENS,
          'ibm,errinjct': 0x202d,
          'ibm,open-errinjct': 0x202e,
          'ibm,close-errinjct': 0x202f,
        },
      },
    });
    const pe = g.dev.edev.pe;
    if (!pe) throw new Error('no PE');
    expect(runTask(g, g.kernel.ops.errInject(pe, 1, 16, 0x1234_5678_9abc_def0n, 0xffffn))).toBe(0);
    const [type, session, ...w] = g.fake.injected[0] ?? [];
    expect(type).toBe(0xf); // IOA_BUS_ERROR_64
    expect(session).toBe(7);
    expect(w).toEqual([
      0x1234_5678,
      0x9abc_def0,
      0,
      0xffff,
      1,
      Number(TEST_BUID >> 32n),
      Number(TEST_BUID & 0xffff_ffffn),
      16,
    ]);
    expect(g.fake.calls('ibm,close-errinjct')).toHaveLength(1);
  });
});

describe('a firmware without the EEH services', () => {
  it('eeh_pseries_init refuses: no PEs, EEH off, all-1s reads are never checked', () => {
    const tokens = { ...QEMU_TOKENS };
    delete (tokens as Record<string, number>)['ibm,slot-error-detail'];
    const g = bootGuest({ fake: { tokens } });
    expect(g.boot?.eeh).toBe(false);
    expect(g.boot?.eehMissing).toBe('ibm,slot-error-detail');
    expect(g.kernel.ops.init.ok).toBe(false);
    expect(g.dev.edev.pe).toBeUndefined();
    expect(g.fake.calls('ibm,get-config-addr-info2')).toHaveLength(0);
    // the driver still works without EEH
    expect(g.slot.state).toBe('up');
    g.fake.freeze();
    const r = runTask(g, g.slot.readId());
    expect(r).toEqual({ ok: true, value: 0xffff_ffff, retried: false });
    expect(g.fake.calls('ibm,read-slot-reset-state2')).toHaveLength(0);
    expect(g.kernel.eeh.stats.totalMmioFfs).toBe(0);
    // ... and the all-1s value it used is silent corruption
    expect(g.dev.integrity.counts.silentReads).toBe(1);
  });
});
