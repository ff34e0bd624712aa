import { describe, expect, it } from 'vitest';
import {
  aerCapability,
  barAddress,
  defineCapabilities,
  defineType0Header,
  defineType1Header,
  pcieCapability,
} from '../../src/hw/config_layout.js';
import { ConfigSpace, ConfigSpaceError } from '../../src/hw/config_space.js';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_2,
  PCI_BASE_ADDRESS_3,
  PCI_BASE_ADDRESS_4,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_ERR_COR_MASK,
  PCI_ERR_UNC_POISON_TLP,
  PCI_ERR_UNCOR_STATUS,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXT_CAP_ID_ERR,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_MFD,
  PCI_MEMORY_BASE,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_RANGE_TYPE_64,
  PCI_SECONDARY_BUS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_SIG_TARGET_ABORT,
  PCI_VENDOR_ID,
} from '../../src/uapi/pci_regs.js';

const IDS = { vendor: 0x1234, device: 0xabcd, classCode: 0x020000, revision: 7 };

function endpoint(): ConfigSpace {
  const cs = new ConfigSpace();
  defineType0Header(cs, IDS, [
    { index: 0, kind: 'mem32', size: 0x1000 },
    { index: 2, kind: 'mem64', size: 0x1_0000, prefetchable: true },
    { index: 4, kind: 'io', size: 0x20 },
  ]);
  return cs;
}

describe('ConfigSpace engine', () => {
  it('holds reset values and keeps read-only registers read-only', () => {
    const cs = endpoint();
    expect(cs.read(PCI_VENDOR_ID, 2)).toBe(0x1234);
    expect(cs.read(PCI_DEVICE_ID, 2)).toBe(0xabcd);
    expect(cs.read(PCI_VENDOR_ID, 4)).toBe(0xabcd1234);
    expect(cs.read(PCI_CLASS_REVISION, 4)).toBe(0x02000007);
    cs.write(PCI_VENDOR_ID, 4, 0);
    expect(cs.read(PCI_VENDOR_ID, 4)).toBe(0xabcd1234);
  });

  it('writes only the writable bits', () => {
    const cs = endpoint();
    cs.write(PCI_COMMAND, 2, 0xffff);
    // IO | MEMORY | MASTER | PARITY | SERR | INTX_DISABLE
    expect(cs.read(PCI_COMMAND, 2)).toBe(0x0547);
  });

  it('clears RW1C status bits only where 1 is written', () => {
    const cs = endpoint();
    cs.setBits(PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT);
    cs.write(PCI_STATUS, 2, 0);
    expect(cs.read(PCI_STATUS, 2)).toBe(PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT);
    cs.write(PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
    expect(cs.read(PCI_STATUS, 2)).toBe(PCI_STATUS_SIG_TARGET_ABORT);
  });

  it('sizes a 32-bit memory BAR exactly as PCI specifies', () => {
    const cs = endpoint();
    cs.write(PCI_BASE_ADDRESS_0, 4, 0xffff_ffff);
    expect(cs.read(PCI_BASE_ADDRESS_0, 4)).toBe(0xffff_f000);
    cs.write(PCI_BASE_ADDRESS_0, 4, 0x8000_1234);
    expect(cs.read(PCI_BASE_ADDRESS_0, 4)).toBe(0x8000_1000);
  });

  it('sizes a 64-bit prefetchable BAR over both registers with read-only flags', () => {
    const cs = endpoint();
    cs.write(PCI_BASE_ADDRESS_2, 4, 0xffff_ffff);
    cs.write(PCI_BASE_ADDRESS_3, 4, 0xffff_ffff);
    const flags = PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH;
    expect(cs.read(PCI_BASE_ADDRESS_2, 4)).toBe((0xffff_0000 | flags) >>> 0);
    expect(cs.read(PCI_BASE_ADDRESS_3, 4)).toBe(0xffff_ffff);
    cs.write(PCI_BASE_ADDRESS_2, 4, 0x4000_0000);
    cs.write(PCI_BASE_ADDRESS_3, 4, 0x2);
    expect(barAddress(cs, { index: 2, kind: 'mem64', size: 0x1_0000 })).toBe(0x2_4000_0000);
  });

  it('sizes an I/O BAR with the I/O space flag', () => {
    const cs = endpoint();
    cs.write(PCI_BASE_ADDRESS_4, 4, 0xffff_ffff);
    expect(cs.read(PCI_BASE_ADDRESS_4, 4)).toBe((0xffff_ffe0 | PCI_BASE_ADDRESS_SPACE_IO) >>> 0);
  });

  it('reads unimplemented BARs and reserved bytes as 0 and ignores writes', () => {
    const cs = endpoint();
    cs.write(PCI_BASE_ADDRESS_0 + 4, 4, 0xffff_ffff);
    expect(cs.read(PCI_BASE_ADDRESS_0 + 4, 4)).toBe(0);
    cs.write(0x200, 4, 0xffff_ffff);
    expect(cs.read(0x200, 4)).toBe(0);
  });

  it('resets to reset values; a hot reset keeps sticky bits, a fundamental one does not', () => {
    const cs = new ConfigSpace();
    defineType0Header(cs, IDS, []);
    const at = defineCapabilities(cs, [pcieCapability(PCI_EXP_TYPE_ENDPOINT)], [aerCapability()]);
    const aer = at.get(0x1_0000 | PCI_EXT_CAP_ID_ERR) as number;
    cs.write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    cs.setBits(aer + PCI_ERR_UNCOR_STATUS, 4, PCI_ERR_UNC_POISON_TLP);
    cs.reset('hot');
    expect(cs.read(PCI_COMMAND, 2)).toBe(0);
    expect(cs.read(aer + PCI_ERR_UNCOR_STATUS, 4)).toBe(PCI_ERR_UNC_POISON_TLP);
    expect(cs.read(aer + PCI_ERR_COR_MASK, 4)).toBe(0x2000);
    cs.reset('fundamental');
    expect(cs.read(aer + PCI_ERR_UNCOR_STATUS, 4)).toBe(0);
  });

  it('rejects overlapping and misaligned register declarations', () => {
    const cs = new ConfigSpace();
    cs.define({ offset: 0x40, size: 4 });
    expect(() => cs.define({ offset: 0x42, size: 2 })).toThrow(ConfigSpaceError);
    expect(() => cs.define({ offset: 0x45, size: 2 })).toThrow(ConfigSpaceError);
    expect(() => cs.read(0xfff, 4)).toThrow(ConfigSpaceError);
  });
});

describe('capability chains', () => {
  it('links standard and extended capabilities that the walkers find', () => {
    const cs = new ConfigSpace();
    defineType0Header(cs, IDS, []);
    const msi = { id: PCI_CAP_ID_MSI, size: 0x0c, registers: [] };
    defineCapabilities(cs, [msi, pcieCapability(PCI_EXP_TYPE_ENDPOINT)], [aerCapability()]);
    expect(cs.read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST).toBe(PCI_STATUS_CAP_LIST);
    expect(cs.findCapability(PCI_CAP_ID_MSI)).toBe(0x40);
    expect(cs.findCapability(PCI_CAP_ID_EXP)).toBe(0x4c);
    expect(cs.findCapability(0x09)).toBe(0);
    expect(cs.findExtCapability(PCI_EXT_CAP_ID_ERR)).toBe(0x100);
    expect(cs.findExtCapability(0x03)).toBe(0);
    // A hot reset keeps the chain (read-only reset values).
    cs.reset('hot');
    expect(cs.findCapability(PCI_CAP_ID_EXP)).toBe(0x4c);
  });

  it('has no capability list without capabilities', () => {
    const cs = new ConfigSpace();
    defineType0Header(cs, IDS, []);
    expect(cs.findCapability(PCI_CAP_ID_EXP)).toBe(0);
    expect(cs.findExtCapability(PCI_EXT_CAP_ID_ERR)).toBe(0);
  });
});

describe('type 1 header', () => {
  it('has bus numbers and windows, a bridge header type and the MFD bit when asked', () => {
    const cs = new ConfigSpace();
    defineType1Header(cs, { ...IDS, classCode: 0x060400, multiFunction: true });
    expect(cs.read(PCI_HEADER_TYPE, 1)).toBe(PCI_HEADER_TYPE_BRIDGE | PCI_HEADER_TYPE_MFD);
    cs.write(PCI_SECONDARY_BUS, 1, 5);
    expect(cs.read(PCI_SECONDARY_BUS, 1)).toBe(5);
    cs.write(PCI_MEMORY_BASE, 2, 0xffff);
    expect(cs.read(PCI_MEMORY_BASE, 2)).toBe(0xfff0);
    cs.write(PCI_PREF_MEMORY_BASE, 2, 0);
    expect(cs.read(PCI_PREF_MEMORY_BASE, 2)).toBe(PCI_PREF_RANGE_TYPE_64);
  });
});
