import { describe, expect, it } from 'vitest';
import {
  TESTNIC_BUFFER_BAR,
  TESTNIC_CONTROL,
  TESTNIC_CONTROL_ENABLE,
  TESTNIC_DMA_BUSY,
  TESTNIC_DMA_COUNT,
  TESTNIC_DMA_DEV_OFF,
  TESTNIC_DMA_ERRORS,
  TESTNIC_DMA_FROM_DEVICE,
  TESTNIC_DMA_IOVA_LO,
  TESTNIC_DMA_LEN,
  TESTNIC_DMA_TO_DEVICE,
  TESTNIC_DOORBELL,
  TESTNIC_ID,
  TESTNIC_ID_VALUE,
  TESTNIC_LINK_STATUS,
  TESTNIC_REGS_BAR,
  TESTNIC_SCRATCH,
  TESTNIC_STATUS,
  TESTNIC_STATUS_DMA_DONE,
  TESTNIC_STATUS_DMA_ERROR,
} from '../../src/hw/devices/testnic.js';
import { TCE_PCI_READ, TCE_PCI_WRITE } from '../../src/hw/tce.js';
import { hpa, iova } from '../../src/uapi/ids.js';
import {
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_HEADER_TYPE,
  PCI_VENDOR_ID,
} from '../../src/uapi/pci_regs.js';
import { bar, machine } from './helpers.js';

/** nic0 with a 2-page buffer mapped at IOVA 0x10000 (read+write). */
function setup() {
  const m = machine();
  const region = m.hw.memory.alloc(0x2000, 'test');
  const pe = m.phb.peOf(m.nic);
  for (let p = 0; p < 2; p++) {
    pe.tce?.put(
      iova(0x1_0000 + p * 0x1000),
      hpa(region.base + p * 0x1000),
      TCE_PCI_READ | TCE_PCI_WRITE,
    );
  }
  const regs = bar(m.nic, TESTNIC_REGS_BAR);
  const w = (off: number, v: number) => m.hw.mmioWrite(regs + off, 4, v);
  const r = (off: number) => m.hw.mmioRead(regs + off, 4);
  const dma = (dir: number, io: number, off: number, len: number) => {
    w(TESTNIC_DMA_IOVA_LO, io);
    w(TESTNIC_DMA_LEN, len);
    w(TESTNIC_DMA_DEV_OFF, off);
    w(TESTNIC_DOORBELL, dir);
  };
  return { ...m, region, pe, regs, w, r, dma };
}

describe('testnic', () => {
  it('has its id, a type 0 header and scratch/control registers', () => {
    const { r, w, nic } = setup();
    expect(r(TESTNIC_ID)).toBe(TESTNIC_ID_VALUE);
    expect(nic.config.read(PCI_VENDOR_ID, 2)).toBe(0x1234);
    expect(nic.config.read(PCI_HEADER_TYPE, 1)).toBe(0);
    w(TESTNIC_SCRATCH, 0xcafe_f00d);
    expect(r(TESTNIC_SCRATCH)).toBe(0xcafe_f00d);
    expect(r(TESTNIC_DOORBELL)).toBe(0);
  });

  it('reads link_status as all 1s while the link is down - legitimately', () => {
    const { r, w, nic } = setup();
    expect(r(TESTNIC_LINK_STATUS)).toBe(0xffff_ffff);
    w(TESTNIC_CONTROL, TESTNIC_CONTROL_ENABLE);
    expect(r(TESTNIC_LINK_STATUS)).toBe(0x831);
    nic.cable = false;
    expect(r(TESTNIC_LINK_STATUS)).toBe(0xffff_ffff);
    nic.cable = true;
    expect(r(TESTNIC_LINK_STATUS) & 1).toBe(1);
  });

  it('moves a buffer to the device and back through the IOMMU, taking dma_page per page', () => {
    const { sim, hw, region, r, dma, nic } = setup();
    const data = Uint8Array.from({ length: 0x1800 }, (_, i) => (i * 7) & 0xff);
    hw.memory.write(region.base, data);
    const t0 = sim.now;
    dma(TESTNIC_DMA_TO_DEVICE, 0x1_0000, 0x100, 0x1800);
    expect(r(TESTNIC_DMA_BUSY)).toBe(1);
    sim.run();
    expect(sim.now - t0).toBe(2 * sim.costs.ns('dma_page'));
    expect(r(TESTNIC_DMA_BUSY)).toBe(0);
    expect(r(TESTNIC_STATUS)).toBe(TESTNIC_STATUS_DMA_DONE);
    expect([...nic.buffer.subarray(0x100, 0x1900)]).toEqual([...data]);
    // Device buffer through BAR2, then back into memory at the second page.
    expect(hw.mmioRead(bar(nic, TESTNIC_BUFFER_BAR) + 0x100, 4)).toBe(0x150e0700);
    dma(TESTNIC_DMA_FROM_DEVICE, 0x1_1000, 0x100, 0x10);
    sim.run();
    const back = new Uint8Array(0x10);
    hw.memory.read(hpa(region.base + 0x1000), back);
    expect([...back]).toEqual([...data.subarray(0, 0x10)]);
    expect(r(TESTNIC_DMA_COUNT)).toBe(2);
  });

  it('fails a DMA with a bad descriptor or without bus mastering', () => {
    const { r, w, dma, sim, phb, nic } = setup();
    dma(TESTNIC_DMA_TO_DEVICE, 0x1_0000, 0xff00, 0x200); // past the buffer
    expect(r(TESTNIC_STATUS)).toBe(TESTNIC_STATUS_DMA_ERROR);
    w(TESTNIC_STATUS, TESTNIC_STATUS_DMA_ERROR);
    expect(r(TESTNIC_STATUS)).toBe(0);
    dma(7, 0x1_0000, 0, 4);
    const cmd = phb.configRead(nic.bdf, PCI_COMMAND, 2);
    phb.configWrite(nic.bdf, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MASTER);
    dma(TESTNIC_DMA_TO_DEVICE, 0x1_0000, 0, 4);
    sim.run();
    expect(r(TESTNIC_DMA_ERRORS)).toBe(3);
    expect(r(TESTNIC_DMA_COUNT)).toBe(0);
  });

  it('reset (and FLR) puts registers, buffer and config back and cancels a DMA in flight', () => {
    const { r, w, dma, sim, phb, nic } = setup();
    w(TESTNIC_SCRATCH, 5);
    dma(TESTNIC_DMA_TO_DEVICE, 0x1_0000, 0, 4);
    nic.buffer[0] = 9;
    const devctl = nic.caps.pcie + PCI_EXP_DEVCTL;
    phb.configWrite(nic.bdf, devctl, 2, PCI_EXP_DEVCTL_BCR_FLR);
    expect(nic.regs.get(TESTNIC_SCRATCH)).toBe(0);
    expect(nic.buffer[0]).toBe(0);
    expect(nic.config.read(PCI_COMMAND, 2)).toBe(0);
    expect(nic.config.read(devctl, 2) & PCI_EXP_DEVCTL_BCR_FLR).toBe(0);
    sim.run();
    expect(nic.regs.get(TESTNIC_DMA_COUNT)).toBe(0);
    expect(nic.regs.get(TESTNIC_STATUS)).toBe(0);
    // BAR0 is unassigned now: the MMIO no longer reaches the device.
    expect(r(TESTNIC_ID)).not.toBe(TESTNIC_ID_VALUE);
  });
});
