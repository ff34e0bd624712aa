import { describe, expect, it } from 'vitest';
import { GuestKernel, startGuest } from '../../src/guest/index.js';
import { ms, us } from '../../src/sim/time.js';
import { FakeGuestPlatform } from './fake_platform.js';

function scenario() {
  const fake = new FakeGuestPlatform();
  const g = startGuest(fake.sim, fake, {
    drivers: { '00:01.0': 'full' },
    oracle: fake.oracle,
    workloads: [
      { kind: 'dma-pingpong', device: '00:01.0', intervalNs: us(200), ops: 10, bytes: 4096 },
      { kind: 'mmio-read', device: 0, intervalNs: us(100), durationNs: ms(3) },
    ],
  });
  fake.sim.sched.after(ms(1), () => fake.freeze());
  fake.sim.run();
  return { fake, g };
}

describe('startGuest (machine-builder entry point)', () => {
  it('boots, runs the workloads through a freeze and reports per device', () => {
    const { g } = scenario();
    expect(g.boot.result?.eeh).toBe(true);
    expect(g.workloads.every((w) => w.stats.done)).toBe(true);
    expect(g.workloads[0]?.stats).toMatchObject({ completed: 10, dmaOk: 10, lost: 0 });
    const [r] = g.results();
    expect(r).toMatchObject({
      device: '0000:00:01.0',
      owner: 'vm0',
      driver: 'testnic:full',
      status: 'recovered',
      freezes: 1,
      integrity: { silentReads: 0, dmaMismatches: 0, lostIos: 0 },
    });
    expect(r?.integrity.retriedIos).toBeGreaterThanOrEqual(1);
  });

  it('is deterministic: the same run gives a byte-identical trace', () => {
    const a = scenario().fake.sim.trace.toText();
    const b = scenario().fake.sim.trace.toText();
    expect(a.length).toBeGreaterThan(1000);
    expect(a).toBe(b);
  });

  it('constructing the kernel touches neither the device tree nor guest RAM (boot does)', () => {
    const fake = new FakeGuestPlatform();
    let touched = 0;
    const tree = fake.deviceTree.bind(fake);
    fake.deviceTree = () => {
      touched++;
      return tree();
    };
    const alloc = fake.ram.alloc.bind(fake.ram);
    fake.ram.alloc = (size: number, align?: number) => {
      touched++;
      return alloc(size, align);
    };
    const k = new GuestKernel(fake.sim, fake);
    expect(touched).toBe(0);
    k.start();
    fake.sim.run();
    expect(k.booted).toBe(true);
    expect(touched).toBeGreaterThan(0);
  });
});
