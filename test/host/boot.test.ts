import { describe, expect, it } from 'vitest';
import {
  TESTNIC_BUFFER_BAR,
  TESTNIC_BUFFER_SIZE,
  TESTNIC_DEVICE_ID,
  TESTNIC_ID,
  TESTNIC_ID_VALUE,
  TESTNIC_REGS_BAR,
  TESTNIC_REGS_SIZE,
  TESTNIC_VENDOR_ID,
} from '../../src/hw/devices/testnic.js';
import { EEH_PE_BUS, EEH_PE_DEVICE } from '../../src/kernel/eeh_consts.js';
import { PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_MEMORY } from '../../src/uapi/pci_regs.js';
import { bootHost, dev, ROOT_TOPOLOGY, run, SWITCH_TOPOLOGY } from './helpers.js';

describe('host boot: enumeration through OPAL config calls', () => {
  it('finds every function with its ids, capabilities and BAR sizes', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    expect(m.host.devices.map((d) => d.name)).toEqual([
      '0000:00:01.0',
      '0000:00:02.0',
      '0000:00:03.0',
      '0000:00:03.1',
    ]);
    const nic = dev(m, 'nic0');
    expect([nic.vendor, nic.device]).toEqual([TESTNIC_VENDOR_ID, TESTNIC_DEVICE_ID]);
    expect(nic.isPcie).toBe(true);
    expect(nic.cfgSize).toBe(4096);
    expect(nic.aerCap).toBeGreaterThanOrEqual(0x100);
    expect(nic.flr).toBe(true);
    expect(nic.hostResources.map((r) => [r.index, r.size, r.is64, r.prefetchable])).toEqual([
      [TESTNIC_REGS_BAR, TESTNIC_REGS_SIZE, false, false],
      [TESTNIC_BUFFER_BAR, TESTNIC_BUFFER_SIZE, true, true],
    ]);
    expect(dev(m, 'dual').multiFunction).toBe(true);
    // Enumeration crossed the firmware boundary: OPAL calls were charged.
    expect(m.sim.accounting.byCost.get('opal_call_null')?.count).toBeGreaterThan(100);
  });

  it('numbers the buses behind a switch depth first and opens bridge windows', () => {
    const m = bootHost(SWITCH_TOPOLOGY);
    const up = m.host.device('0000:00:01.0');
    const ds0 = m.host.device('0000:01:00.0');
    const ds1 = m.host.device('0000:01:01.0');
    expect(up && ds0 && ds1).toBeTruthy();
    if (!up || !ds0 || !ds1) return;
    expect([up.secondaryBus, up.subordinateBus]).toEqual([1, 3]);
    expect([ds0.secondaryBus, ds0.subordinateBus]).toEqual([2, 2]);
    expect([ds1.secondaryBus, ds1.subordinateBus]).toEqual([3, 3]);
    const nic0 = dev(m, 'nic0');
    const nic1 = dev(m, 'nic1');
    expect(nic0.name).toBe('0000:02:00.0');
    // Each BAR lies inside its bridge windows, which nest.
    for (const [nic, port] of [
      [nic0, ds0],
      [nic1, ds1],
    ] as const) {
      for (const r of nic.hostResources) {
        expect(r.start).toBeGreaterThanOrEqual(port.memBase);
        expect(r.start + r.size - 1).toBeLessThanOrEqual(port.memLimit);
      }
      expect(port.memBase).toBeGreaterThanOrEqual(up.memBase);
      expect(port.memLimit).toBeLessThanOrEqual(up.memLimit);
    }
  });
});

describe('BAR assignment', () => {
  it('places BARs in the PHB window, naturally aligned, without overlap, and they decode', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const w = m.host.phbs[0]?.window;
    if (!w) throw new Error('no PHB');
    const ranges = m.host.devices.flatMap((d) =>
      d.hostResources.map((r) => ({ start: r.start, end: r.start + r.size })),
    );
    for (const r of ranges) {
      expect(r.start).toBeGreaterThanOrEqual(w.base);
      expect(r.end).toBeLessThanOrEqual(w.base + w.size);
      expect(r.start % (r.end - r.start)).toBe(0);
    }
    const sorted = [...ranges].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i]?.start).toBeGreaterThanOrEqual(sorted[i - 1]?.end ?? 0);
    }
    // The BAR registers hold the addresses (read back through config space).
    const nic = dev(m, 'nic0');
    const regs = nic.bar(TESTNIC_REGS_BAR);
    const bar0 = run(m, m.host.pciReadConfig(nic, PCI_BASE_ADDRESS_0, 4));
    expect((bar0 & ~0xf) >>> 0).toBe(regs?.start);
    // The host driver enabled the device: its ID register reads through MMIO.
    const cmd = run(m, m.host.pciReadConfig(nic, PCI_COMMAND, 2));
    expect(cmd & PCI_COMMAND_MEMORY).toBeTruthy();
    expect(run(m, m.host.readl((regs?.start ?? 0) + TESTNIC_ID))).toBe(TESTNIC_ID_VALUE);
  });
});

describe('PE tree and IOMMU groups from the platform PE assignment', () => {
  it('builds PHB PE -> device PEs on the root bus, one IOMMU group per PE', () => {
    const m = bootHost(ROOT_TOPOLOGY);
    const pes = m.host.debugfs.pes();
    expect(pes.map((p) => [p.type, p.parent, p.devices])).toEqual([
      ['phb', null, []],
      ['device', 'PHB#0-PE#0', ['0000:00:01.0']],
      ['device', 'PHB#0-PE#0', ['0000:00:02.0']],
      ['device', 'PHB#0-PE#0', ['0000:00:03.0', '0000:00:03.1']],
    ]);
    expect(m.host.groups.map((g) => [g.id, g.pdevs.map((p) => p.name)])).toEqual([
      [0, ['0000:00:01.0']],
      [1, ['0000:00:02.0']],
      [2, ['0000:00:03.0', '0000:00:03.1']],
    ]);
    expect(m.host.peOf(dev(m, 'nic0'))?.type).toBe(EEH_PE_DEVICE);
  });

  it('builds a bus PE tree below a switch (child PEs under the downstream-port PE)', () => {
    const m = bootHost(SWITCH_TOPOLOGY);
    const pes = m.host.debugfs.pes();
    const byDev = (name: string) => pes.find((p) => p.devices.includes(name));
    const upPe = byDev('0000:00:01.0');
    const portPe = byDev('0000:01:00.0');
    const nicPe = byDev('0000:02:00.0');
    expect(portPe?.devices).toEqual(['0000:01:00.0', '0000:01:01.0']);
    expect(portPe?.parent).toBe(upPe?.pe);
    expect(nicPe?.parent).toBe(portPe?.pe);
    expect(nicPe?.type).toBe('bus');
    expect(m.host.peOf(dev(m, 'nic1'))?.type).toBe(EEH_PE_BUS);
    // A group per PE: the upstream port, the ports, each testnic.
    expect(m.host.groups).toHaveLength(4);
  });

  it('binds vfio-pci to the devices the configuration names, testnic to the others', () => {
    const m = bootHost(ROOT_TOPOLOGY, { vfio: ['nic1'] });
    expect(dev(m, 'nic0').driver?.name).toBe('testnic');
    expect(dev(m, 'nic1').driver?.name).toBe('vfio-pci');
    expect(dev(m, 'dual').driver).toBeUndefined();
    const v = m.host.vfioBackend();
    const g = v.iommuGroup(1);
    expect(g?.devices().map((d) => [d.name, d.vfioBound])).toEqual([['0000:00:02.0', true]]);
    expect(v.iommuGroup(0)?.devices()[0]?.vfioBound).toBe(false);
    expect(g?.pe()).toBe(m.host.peOf(dev(m, 'nic1')));
  });
});
