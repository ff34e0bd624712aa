import { describe, expect, it } from 'vitest';
import { startWorkload } from '../../src/guest/workloads/index.js';
import { TESTNIC_CONTROL, TESTNIC_CONTROL_ENABLE } from '../../src/hw/devices/testnic.js';
import { ms, NS_PER_MS, sec, us } from '../../src/sim/time.js';
import { bootGuest, runTask } from './helpers.js';

function drvEvents(g: ReturnType<typeof bootGuest>): string[] {
  return g.sim.trace.find('guest.drv').map((r) => `${r.fields.drv} ${r.fields.event}`);
}

describe('guest boot', () => {
  it('enumerates the PHB and device, probes EEH, saves config, binds and starts the driver', () => {
    const g = bootGuest();
    expect(g.boot).toEqual({ phbs: 1, devices: 1, eeh: true, probe: { '0000:00:01.0': 0 } });
    expect(g.kernel.eeh.enabled).toBe(true);
    expect(g.dev.edev.pe?.label).toBe('PHB#0-PE#1');
    expect(g.dev.pdev.saved?.[0]).toBe(0xee01_1234);
    expect(g.dev.pdev.driver?.name).toBe('testnic:full');
    expect(g.slot.state).toBe('up');
    // the driver brought the link up and mapped its DMA buffers (2 x 16 pages)
    expect(g.fake.nic.regs.get(TESTNIC_CONTROL) & TESTNIC_CONTROL_ENABLE).toBe(1);
    expect(g.fake.nic.busMaster).toBe(true);
    expect(g.fake.tces.size).toBe(32);
    expect(g.slot.tx?.iova).toBe(0x1000); // page 0 of the window is reserved
    const snap = g.kernel.snapshot();
    expect(snap.devices[0]?.driver).toBe('testnic:full');
    expect(snap.pes.map((p) => p.label)).toEqual(['PHB#0-PE#0', 'PHB#0-PE#1']);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('driver_override binds the requested behaviour', () => {
    const g = bootGuest({ behaviour: 'no-handlers' });
    expect(g.dev.pdev.driver?.name).toBe('testnic:no-handlers');
    expect(g.dev.pdev.driver?.errHandler).toBeUndefined();
  });

  it('healthy I/O: ID reads, link status and DMA ping-pong with data checks', () => {
    const g = bootGuest();
    expect(runTask(g, g.slot.readId())).toEqual({ ok: true, value: 0x544e_4943, retried: false });
    const link = runTask(g, g.slot.readLinkStatus());
    expect(link.ok && link.value & 1).toBe(1);
    const dma = runTask(g, g.slot.dmaPingPong(6000));
    expect(dma).toEqual({ ok: true, value: { ok: true, bad: 0, bytes: 6000 }, retried: false });
    expect(g.dev.integrity.counts).toMatchObject({ dmaOk: 1, completedIos: 3, silentReads: 0 });
    expect(g.kernel.eeh.stats.totalMmioFfs).toBe(0);
  });
});

describe('guest recovery per driver behaviour', () => {
  it('full: error_detected -> reset -> slot_reset re-inits -> resume; held I/O retried, nothing lost', () => {
    const g = bootGuest({ behaviour: 'full' });
    const wl = startWorkload(g.kernel, {
      kind: 'mmio-read',
      device: '00:01.0',
      intervalNs: us(100),
      ops: 50,
    });
    g.sim.sched.after(ms(1), () => g.fake.freeze());
    g.sim.run();
    expect(wl.stats).toMatchObject({
      done: true,
      issued: 50,
      completed: 50,
      lost: 0,
      badValues: 0,
    });
    expect(wl.stats.retried).toBe(1);
    const rec = g.kernel.eeh.recoveries;
    expect(rec).toHaveLength(1);
    expect(rec[0]).toMatchObject({ outcome: 'recovered', reset: true, hotplug: false });
    expect(drvEvents(g)).toEqual(
      expect.arrayContaining([
        'testnic:full error_detected',
        'testnic:full error',
        'testnic:full slot_reset',
        'testnic:full resume',
      ]),
    );
    // the guest drove the reset through RTAS: hot reset, deactivate, configure-pe
    expect(g.fake.calls('ibm,set-slot-reset').map((c) => c.args[3])).toEqual([1, 0]);
    expect(g.fake.calls('ibm,configure-pe').length).toBeGreaterThanOrEqual(1);
    const r = g.kernel.result(g.dev);
    expect(r.status).toBe('recovered');
    expect(r.freezes).toBe(1);
    expect(r.recoveryNs).toBeGreaterThanOrEqual(2050 * NS_PER_MS);
    expect(r.checks).toBeGreaterThanOrEqual(1);
    expect(r.integrity).toMatchObject({
      silentReads: 0,
      lostIos: 0,
      retriedIos: 1,
      dmaMismatches: 0,
    });
    // after recovery the device works again
    expect(g.fake.nic.regs.get(TESTNIC_CONTROL) & TESTNIC_CONTROL_ENABLE).toBe(1);
    expect(g.dev.pdev.errorState).toBe('normal');
  });

  it('full: a freeze in the middle of DMA ping-pong is retried after recovery, data intact', () => {
    const g = bootGuest({ behaviour: 'full' });
    const wl = startWorkload(g.kernel, {
      kind: 'dma-pingpong',
      device: 0,
      intervalNs: us(50),
      ops: 20,
      bytes: 8192,
    });
    g.sim.sched.after(us(400), () => g.fake.freeze());
    g.sim.run();
    expect(wl.stats).toMatchObject({ completed: 20, lost: 0, dmaOk: 20, dmaMismatches: 0 });
    expect(wl.stats.retried).toBe(1);
    expect(g.kernel.result(g.dev)).toMatchObject({
      status: 'recovered',
      integrity: { silentReads: 0, dmaMismatches: 0, dmaOk: 20, lostIos: 0, retriedIos: 1 },
    });
  });

  it('full: a DMA-only stop (state 4) is found through the DMA error and recovered', () => {
    const g = bootGuest({ behaviour: 'full' });
    g.fake.pe.dmaFrozen = true;
    const r = runTask(g, g.slot.dmaPingPong(4096));
    expect(r).toEqual({ ok: true, value: { ok: true, bad: 0, bytes: 4096 }, retried: true });
    expect(g.kernel.eeh.recoveries[0]?.outcome).toBe('recovered');
    expect(g.sim.trace.find('guest.eeh.check_failure')[0]?.fields.why).toBe('frozen');
  });

  it('no-handlers: the device is removed, the PE reset, the device rescanned; I/O resumes', () => {
    const g = bootGuest({ behaviour: 'no-handlers' });
    const wl = startWorkload(g.kernel, { kind: 'mixed', device: 0, intervalNs: us(200), ops: 40 });
    g.sim.sched.after(ms(2), () => g.fake.freeze());
    g.sim.run();
    const rec = g.kernel.eeh.recoveries[0];
    expect(rec).toMatchObject({ outcome: 'recovered', reset: true, hotplug: true });
    expect((rec?.endNs ?? 0) - (rec?.startNs ?? 0)).toBeGreaterThanOrEqual(sec(5));
    expect(g.kernel.pci.hotplugRemoves).toBe(1);
    expect(g.kernel.pci.hotplugAdds).toBe(1);
    expect(drvEvents(g)).toEqual(
      expect.arrayContaining(['testnic:no-handlers remove', 'testnic:no-handlers probe']),
    );
    expect(g.dev.pdev.driver?.name).toBe('testnic:no-handlers');
    expect(g.slot.state).toBe('up');
    expect(wl.stats).toMatchObject({ completed: 40, lost: 0, dmaMismatches: 0, badValues: 0 });
    expect(g.kernel.result(g.dev).integrity).toMatchObject({ silentReads: 0, lostIos: 0 });
    // the DMA buffers were freed and mapped again: still 32 TCEs
    expect(g.fake.tces.size).toBe(32);
  });

  it('slot-reset-fails: DISCONNECT makes the failure permanent; held and later I/O is lost', () => {
    const g = bootGuest({ behaviour: 'slot-reset-fails' });
    const wl = startWorkload(g.kernel, {
      kind: 'mmio-read',
      device: 0,
      intervalNs: us(100),
      ops: 30,
    });
    g.sim.sched.after(ms(1), () => g.fake.freeze());
    g.sim.run();
    expect(g.kernel.eeh.recoveries[0]).toMatchObject({ outcome: 'failed', result: 'DISCONNECT' });
    expect(drvEvents(g)).toEqual(
      expect.arrayContaining([
        'testnic:slot-reset-fails error_detected',
        'testnic:slot-reset-fails slot_reset',
      ]),
    );
    expect(g.slot.state).toBe('dead');
    expect(g.dev.pdev.removed).toBe(true);
    expect(g.kernel.eeh.stats.permFailures).toBe(1);
    expect(wl.stats.lost).toBeGreaterThanOrEqual(1);
    expect(wl.stats.completed + wl.stats.lost).toBe(30);
    const r = g.kernel.result(g.dev);
    expect(r.status).toBe('failed');
    expect(r.cause).toBe('driver result DISCONNECT');
    expect(r.integrity.lostIos).toBe(wl.stats.lost);
    expect(r.integrity.silentReads).toBe(0);
  });

  it('ignores-all-ones: all 1s consumed as data, never detected, no recovery (silent corruption)', () => {
    const g = bootGuest({ behaviour: 'ignores-all-ones' });
    const wl = startWorkload(g.kernel, { kind: 'mixed', device: 0, intervalNs: us(100), ops: 20 });
    g.sim.sched.after(ms(1), () => g.fake.freeze());
    g.sim.run();
    expect(g.kernel.eeh.recoveries).toHaveLength(0);
    expect(g.fake.calls('ibm,read-slot-reset-state2')).toHaveLength(0);
    expect(wl.stats.completed).toBe(20);
    expect(wl.stats.badValues).toBeGreaterThan(0);
    expect(wl.stats.dmaMismatches).toBeGreaterThan(0);
    const r = g.kernel.result(g.dev);
    expect(r.status).toBe('unaffected'); // the guest never knew
    expect(r.integrity.silentReads).toBeGreaterThan(0);
    expect(r.integrity.dmaMismatches).toBe(wl.stats.dmaMismatches);
    expect(r.integrity.droppedWrites).toBeGreaterThan(0);
    expect(r.integrity.lostIos).toBe(0);
  });

  it('ignores-all-ones without an oracle still counts reads of registers that cannot be all 1s', () => {
    const g = bootGuest({ behaviour: 'ignores-all-ones', oracle: false });
    g.fake.freeze();
    runTask(g, g.slot.readId());
    expect(g.dev.integrity.counts.silentReads).toBe(1);
  });

  it('the same workload under the full driver yields no silent corruption', () => {
    const g = bootGuest({ behaviour: 'full' });
    const wl = startWorkload(g.kernel, { kind: 'mixed', device: 0, intervalNs: us(100), ops: 20 });
    g.sim.sched.after(ms(1), () => g.fake.freeze());
    g.sim.run();
    expect(wl.stats).toMatchObject({ completed: 20, badValues: 0, dmaMismatches: 0, lost: 0 });
    expect(g.kernel.result(g.dev).integrity).toMatchObject({ silentReads: 0, dmaMismatches: 0 });
  });
});

describe('concurrent detection', () => {
  it('two readers seeing all 1s at once queue one recovery (eeh_serialize_lock)', () => {
    const g = bootGuest({ behaviour: 'full' });
    g.fake.freeze();
    const a = g.sim.spawn('a', g.slot.readId(), 'vm0');
    const b = g.sim.spawn('b', g.slot.readId(), 'vm0');
    g.sim.run();
    expect(a.result?.ok && b.result?.ok).toBe(true);
    expect(g.kernel.eeh.recoveries).toHaveLength(1);
    const whys = g.sim.trace.find('guest.eeh.check_failure').map((r) => r.fields.why);
    expect(whys).toEqual(['frozen', 'already_isolated']);
    expect(g.kernel.eeh.serialize.contended).toBe(1);
  });
});

describe('false positives: link_status legitimately all 1s', () => {
  it('each all-1s read costs one RTAS state query and a false positive; nothing recovers', () => {
    const g = bootGuest({ behaviour: 'full' });
    g.fake.nic.cable = false;
    const wl = startWorkload(g.kernel, {
      kind: 'link-status',
      device: 0,
      intervalNs: us(10),
      ops: 25,
    });
    const queries0 = g.fake.calls('ibm,read-slot-reset-state2').length;
    g.sim.run();
    expect(wl.stats).toMatchObject({ completed: 25, allOnes: 25, lost: 0, retried: 0 });
    expect(g.fake.calls('ibm,read-slot-reset-state2').length - queries0).toBe(25);
    expect(g.kernel.eeh.stats.falsePositives).toBe(25);
    expect(g.kernel.eeh.recoveries).toHaveLength(0);
    const r = g.kernel.result(g.dev);
    expect(r).toMatchObject({ status: 'unaffected', checks: 25, falsePositives: 25, freezes: 0 });
    expect(r.integrity).toMatchObject({ silentReads: 0, legitAllOnes: 25 });
  });
});

describe('freeze limit and PE unavailable', () => {
  it('5 freezes in an hour recover, the 6th disables the PE', () => {
    const g = bootGuest({ behaviour: 'full' });
    for (let i = 0; i < 6; i++) {
      g.fake.freeze();
      runTask(g, g.slot.readId());
    }
    expect(g.kernel.eeh.recoveries.map((r) => r.outcome)).toEqual([
      'recovered',
      'recovered',
      'recovered',
      'recovered',
      'recovered',
      'failed',
    ]);
    expect(g.sim.trace.count('guest.eeh.freeze_limit')).toBe(1);
    const r = g.kernel.result(g.dev);
    expect(r).toMatchObject({ status: 'disabled', cause: 'freeze limit', freezes: 6 });
    expect(g.slot.state).toBe('dead');
  });

  it('waits out a PE the host reports unavailable (state 5, 1000 ms hint) before recovering', () => {
    const g = bootGuest({ behaviour: 'full' });
    g.fake.freeze();
    g.fake.pe.unavailable = 3; // the check_failure query, then two waits
    runTask(g, g.slot.readId());
    const rec = g.kernel.eeh.recoveries[0];
    expect(rec?.outcome).toBe('recovered');
    expect((rec?.endNs ?? 0) - (rec?.startNs ?? 0)).toBeGreaterThanOrEqual(ms(2000 + 2050));
  });
});
