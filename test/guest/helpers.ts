/** Building a booted guest on the fake platform, and running tasks in it. */
import { expect } from 'vitest';
import {
  registerTestnicDrivers,
  type TestnicBehaviour,
  type TestnicDriverOptions,
  testnicDriverName,
  testnicSlot,
} from '../../src/guest/drivers/testnic.js';
import { GuestKernel, type GuestKernelOptions } from '../../src/guest/kernel.js';
import type { Task } from '../../src/sim/scheduler.js';
import { FakeGuestPlatform, type FakeOptions } from './fake_platform.js';

export interface GuestSetup {
  fake?: FakeOptions;
  kernel?: GuestKernelOptions;
  behaviour?: TestnicBehaviour;
  drivers?: TestnicDriverOptions;
  /** Give the integrity ledger the fake's ground truth (default true). */
  oracle?: boolean;
}

export function bootGuest(setup: GuestSetup = {}) {
  const fake = new FakeGuestPlatform(setup.fake);
  const sim = fake.sim;
  const kopts: GuestKernelOptions = { ...setup.kernel };
  if (setup.oracle !== false) kopts.oracle = fake.oracle;
  if (setup.behaviour)
    kopts.driverOverride = { '0000:00:01.0': testnicDriverName(setup.behaviour) };
  const kernel = new GuestKernel(sim, fake, kopts);
  const drivers = registerTestnicDrivers(kernel, setup.drivers);
  const boot = kernel.start();
  sim.run();
  expect(boot.done).toBe(true);
  const dev = kernel.devices[0];
  if (!dev) throw new Error('no device');
  return { fake, sim, kernel, drivers, dev, slot: testnicSlot(kernel, dev), boot: boot.result };
}

/** Runs a task as a process of the VM until the simulation is idle; returns its result. */
export function runTask<T>(g: { sim: FakeGuestPlatform['sim'] }, task: Task<T>): T {
  const p = g.sim.spawn('test', task, 'vm0');
  g.sim.run();
  expect(p.done).toBe(true);
  return p.result as T;
}
