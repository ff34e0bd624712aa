import { describe, expect, it } from 'vitest';
import { PciBridge } from '../../src/hw/device.js';
import {
  TESTNIC_ID,
  TESTNIC_ID_VALUE,
  TESTNIC_SCRATCH,
  type TestNic,
} from '../../src/hw/devices/testnic.js';
import { buildHardware } from '../../src/hw/topology.js';
import { Sim } from '../../src/sim/sim.js';
import { bdf } from '../../src/uapi/ids.js';
import {
  PCI_BRIDGE_CONTROL,
  PCI_BRIDGE_CTL_BUS_RESET,
  PCI_COMMAND,
  PCI_EXP_FLAGS,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_UPSTREAM,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_MEMORY_BASE,
  PCI_PRIMARY_BUS,
  PCI_SECONDARY_BUS,
  PCI_SUBORDINATE_BUS,
  PCI_VENDOR_ID,
} from '../../src/uapi/pci_regs.js';
import { bar, MACHINE, machine } from './helpers.js';

describe('pcie_switch', () => {
  it('has type 1 upstream and downstream ports with the planned bus numbers', () => {
    const { hw, phb } = machine();
    const [up, d0, d1] = hw.named('sw');
    if (!(up instanceof PciBridge) || !(d0 instanceof PciBridge) || !(d1 instanceof PciBridge)) {
      throw new Error('switch ports are bridges');
    }
    expect(phb.configRead(up.bdf, PCI_HEADER_TYPE, 1)).toBe(PCI_HEADER_TYPE_BRIDGE);
    expect((up.config.read(up.caps.pcie + PCI_EXP_FLAGS, 2) >> 4) & 0xf).toBe(
      PCI_EXP_TYPE_UPSTREAM,
    );
    expect((d0.config.read(d0.caps.pcie + PCI_EXP_FLAGS, 2) >> 4) & 0xf).toBe(
      PCI_EXP_TYPE_DOWNSTREAM,
    );
    const buses = (b: PciBridge) =>
      [PCI_PRIMARY_BUS, PCI_SECONDARY_BUS, PCI_SUBORDINATE_BUS].map((o) =>
        phb.configRead(b.bdf, o, 1),
      );
    expect(buses(up)).toEqual([0, 1, 3]);
    expect(buses(d0)).toEqual([1, 2, 2]);
    expect(buses(d1)).toEqual([1, 3, 3]);
  });

  it('routes config cycles below it only once bus numbers are programmed', () => {
    const sim = new Sim();
    const hw = buildHardware(sim, MACHINE);
    const phb = hw.phbs[0];
    if (!phb) throw new Error('no PHB');
    const nic1 = bdf(2, 0, 0);
    expect(phb.configRead(nic1, PCI_VENDOR_ID, 2)).toBe(0xffff);
    phb.configWrite(bdf(0, 3, 0), PCI_SECONDARY_BUS, 1, 1);
    phb.configWrite(bdf(0, 3, 0), PCI_SUBORDINATE_BUS, 1, 3);
    expect(phb.configRead(bdf(1, 0, 0), PCI_VENDOR_ID, 2)).toBe(0x1234);
    expect(phb.configRead(nic1, PCI_VENDOR_ID, 2)).toBe(0xffff);
    phb.configWrite(bdf(1, 0, 0), PCI_SECONDARY_BUS, 1, 2);
    phb.configWrite(bdf(1, 0, 0), PCI_SUBORDINATE_BUS, 1, 2);
    expect(phb.configRead(nic1, PCI_VENDOR_ID, 2)).toBe(0x1234);
    // Nothing on device 1 of that bus.
    expect(phb.configRead(bdf(2, 1, 0), PCI_VENDOR_ID, 2)).toBe(0xffff);
  });

  it('forwards MMIO only inside its window and with memory decode on', () => {
    const { hw, phb } = machine();
    const nic1 = hw.named('nic1')[0];
    const [, d0] = hw.named('sw');
    if (!nic1 || !d0) throw new Error('missing');
    const a = bar(nic1, 0);
    expect(hw.mmioRead(a + TESTNIC_ID, 4)).toBe(TESTNIC_ID_VALUE);
    const win = phb.configRead(d0.bdf, PCI_MEMORY_BASE, 2);
    phb.configWrite(d0.bdf, PCI_MEMORY_BASE, 2, 0xfff0); // window closed
    expect(phb.decode(a)).toBeUndefined();
    phb.configWrite(d0.bdf, PCI_MEMORY_BASE, 2, win);
    expect(phb.decode(a)?.fn).toBe(nic1);
    phb.configWrite(d0.bdf, PCI_COMMAND, 2, 0);
    expect(phb.decode(a)).toBeUndefined();
  });

  it('secondary bus reset resets everything below the port, not the port itself', () => {
    const { hw, phb, sim } = machine();
    const nic1 = hw.named('nic1')[0] as TestNic;
    const [, d0] = hw.named('sw');
    if (!nic1 || !d0) throw new Error('missing');
    hw.mmioWrite(bar(nic1, 0) + TESTNIC_SCRATCH, 4, 77);
    phb.configWrite(d0.bdf, PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_BUS_RESET);
    expect(nic1.resetAsserted).toBe(true);
    expect(phb.configRead(nic1.bdf, PCI_VENDOR_ID, 2)).toBe(0xffff);
    expect(phb.configRead(d0.bdf, PCI_SECONDARY_BUS, 1)).toBe(2);
    phb.configWrite(d0.bdf, PCI_BRIDGE_CONTROL, 2, 0);
    expect(nic1.resetAsserted).toBe(false);
    // Not answering until the reset recovery time has passed.
    expect(phb.configRead(nic1.bdf, PCI_VENDOR_ID, 2)).toBe(0xffff);
    sim.run(sim.now + 1_000_000_000);
    expect(phb.configRead(nic1.bdf, PCI_VENDOR_ID, 2)).toBe(0x1234);
    expect(nic1.regs.get(TESTNIC_SCRATCH)).toBe(0);
    expect(nic1.config.read(PCI_COMMAND, 2)).toBe(0);
    expect(sim.trace.find('hw.bridge.sbr').map((r) => r.fields.assert)).toEqual([true, false]);
  });
});
