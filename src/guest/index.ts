/**
 * The guest layer's entry point for a machine builder: one call boots a
 * pseries guest kernel on a VM's GuestPlatform with the testnic drivers and
 * the workloads of a scenario, and `results()` gives the per-device summary
 * (field names as the scenario result's DeviceOutcome / Integrity).
 */
import type { GuestPlatform } from '../kvm/guest_platform.js';
import type { Process } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import {
  registerTestnicDrivers,
  type TestnicBehaviour,
  type TestnicDriver,
  type TestnicDriverOptions,
  testnicDriverName,
} from './drivers/testnic.js';
import type { FreezeOracle, GuestDeviceResult } from './integrity.js';
import { type BootReport, GuestKernel, type GuestKernelOptions } from './kernel.js';
import { startWorkload, type WorkloadHandle, type WorkloadSpec } from './workloads/index.js';

export * from './drivers/testnic.js';
export * from './eeh_pseries.js';
export * from './integrity.js';
export * from './kernel.js';
export * from './rtas.js';
export * from './workloads/index.js';

export interface GuestSpec {
  /** Driver behaviour per guest device (`DDDD:BB:DD.F` or `BB:DD.F`); default `full`. */
  readonly drivers?: Readonly<Record<string, TestnicBehaviour>>;
  readonly driverOptions?: TestnicDriverOptions;
  readonly workloads?: readonly WorkloadSpec[];
  readonly maxFreezes?: number;
  readonly oracle?: FreezeOracle;
  readonly opsFactory?: GuestKernelOptions['opsFactory'];
  readonly accessors?: GuestKernelOptions['accessors'];
}

export interface GuestHandle {
  readonly kernel: GuestKernel;
  readonly drivers: Readonly<Record<TestnicBehaviour, TestnicDriver>>;
  /** The boot process (owner: the VM); its result is the boot report. */
  readonly boot: Process<BootReport>;
  /** Started at once; each waits for the boot to finish. */
  readonly workloads: readonly WorkloadHandle[];
  results(): GuestDeviceResult[];
}

/** Builds the guest kernel, registers the drivers, spawns its boot and its workloads. */
export function startGuest(sim: Sim, platform: GuestPlatform, spec: GuestSpec = {}): GuestHandle {
  const opts: GuestKernelOptions = {};
  if (spec.maxFreezes !== undefined) opts.maxFreezes = spec.maxFreezes;
  if (spec.oracle) opts.oracle = spec.oracle;
  if (spec.opsFactory) opts.opsFactory = spec.opsFactory;
  if (spec.accessors) opts.accessors = spec.accessors;
  if (spec.drivers) {
    opts.driverOverride = Object.fromEntries(
      Object.entries(spec.drivers).map(([dev, b]) => [dev, testnicDriverName(b)]),
    );
  }
  const kernel = new GuestKernel(sim, platform, opts);
  const drivers = registerTestnicDrivers(kernel, spec.driverOptions);
  const boot = kernel.start();
  const workloads = (spec.workloads ?? []).map((w) => startWorkload(kernel, w));
  return { kernel, drivers, boot, workloads, results: () => kernel.results() };
}
