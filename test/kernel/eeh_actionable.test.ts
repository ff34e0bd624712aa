/**
 * Fixes found while wiring the real powernv platform to the core:
 * - eeh_handle_special_event handles what next_error returns even though
 *   pnv_eeh_next_error has already marked the PE isolated;
 * - recovery leaves passed-through devices (and bridges) alone
 *   (eeh_edev_actionable / eeh_rmv_device in eeh_driver.c).
 */
import { describe, expect, it } from 'vitest';
import { EEH_PE_ISOLATED } from '../../src/kernel/eeh_consts.js';
import { EehDev } from '../../src/kernel/eeh_dev.js';
import { PciDev } from '../../src/kernel/pci.js';
import type { Task } from '../../src/sim/scheduler.js';
import { bdf } from '../../src/uapi/ids.js';
import { fullHandlers, makeCore, testDriver } from './fake_platform.js';

function run<T>(f: ReturnType<typeof makeCore>, task: Task<T>): T {
  const p = f.sim.spawn('test', task);
  f.sim.run();
  expect(p.done).toBe(true);
  return p.result as T;
}

describe('special events from a platform that isolates what it reports', () => {
  it('recovers a frozen PE that next_error already marked isolated', () => {
    const f = makeCore();
    const log: string[] = [];
    f.pci.registerDriver(testDriver('testnic', fullHandlers(log)));
    run(f, f.pci.bind(f.pdev));
    f.ops.freeze(f.devPe);
    f.devPe.state |= EEH_PE_ISOLATED; // as pnv_eeh_next_error leaves it
    f.ops.nextErrors = [{ kind: 'frozen_pe', pe: f.devPe }];
    f.core.events.send(undefined);
    f.sim.run();
    expect(f.core.recoveries.map((r) => r.outcome)).toEqual(['recovered']);
    expect(log).toEqual(['error_detected frozen', 'slot_reset', 'resume']);
  });

  it('recovers a fenced PHB whose PHB PE next_error already isolated', () => {
    const f = makeCore();
    const phbPe = f.core.phbPes[0];
    if (!phbPe) throw new Error('no PHB PE');
    phbPe.state |= EEH_PE_ISOLATED;
    f.ops.nextErrors = [{ kind: 'fenced_phb', phb: 0 }];
    f.core.events.send(undefined);
    f.sim.run();
    expect(f.core.recoveries.map((r) => r.pe)).toEqual([phbPe.label]);
  });
});

describe('recovery of a parent PE with a passed-through child', () => {
  it('neither reports to, removes nor re-adds the passed-through device', () => {
    const f = makeCore();
    // A host device with a recovering driver on the bus PE...
    const hostDev = new PciDev(0, bdf(1, 1, 0), 0x1014, 0x0002, false, []);
    f.pci.addDevice(hostDev);
    const hostEdev = new EehDev(hostDev.bdf, hostDev);
    f.core.attach(hostEdev, f.busPe);
    const hostLog: string[] = [];
    const hostDrv = testDriver('host', fullHandlers(hostLog));
    // ... and a bridge without driver on it ...
    const bridge = new PciDev(0, bdf(1, 2, 0), 0x1014, 0x0003, true, []);
    f.pci.addDevice(bridge);
    f.core.attach(new EehDev(bridge.bdf, bridge), f.busPe);
    // ... the child PE's device passed through (a driver without handlers).
    const vfio = testDriver('vfio-pci', undefined);
    hostDrv.matches = (_v, d) => d === 0x0002;
    vfio.matches = (_v, d) => d === 0x0001;
    f.pci.registerDriver(hostDrv);
    f.pci.registerDriver(vfio);
    run(f, f.pci.bind(hostDev));
    run(f, f.pci.bind(f.pdev));
    f.devPe.passDevCnt = 1;
    f.ops.freeze(f.busPe);
    run(f, f.core.devCheckFailure(hostEdev));
    expect(f.core.recoveries[0]?.pe).toBe(f.busPe.label);
    expect(f.core.recoveries[0]?.outcome).toBe('recovered');
    expect(hostLog).toEqual(['error_detected frozen', 'slot_reset', 'resume']);
    expect(vfio.log).toEqual([`probe ${f.pdev.bdf}`]);
    expect(f.pdev.removed).toBe(false);
    expect(bridge.removed).toBe(false);
    expect(f.pci.hotplugRemoves).toBe(0);
  });
});
