/**
 * Contract tests of the VMM's RTAS calls against the real KVM and VFIO
 * layers (VFIO over the fake host backend of test/vfio): every nargs/nret
 * mismatch, unknown BUID, PHB without EEH, unknown config address, each
 * option value, each PE state, ioctl failures.
 */
import { describe, expect, it } from 'vitest';
import { EEH_PE_ISOLATED } from '../../src/kernel/eeh_consts.js';
import { H_PARAMETER, H_SUCCESS } from '../../src/uapi/hcall.js';
import { gpa } from '../../src/uapi/ids.js';
import { PCI_BASE_ADDRESS_0 } from '../../src/uapi/pci_regs.js';
import {
  RTAS_EEH_CALLS,
  RTAS_OUT_HW_ERROR,
  RTAS_OUT_NO_ERRORS_FOUND,
  RTAS_OUT_PARAM_ERROR,
  RTAS_OUT_SUCCESS,
  rtasCountsOk,
} from '../../src/uapi/rtas.js';
import { addrWords, makeWorld, PHB0, PHB1, rtas, token, type World } from './world.js';

const PHB_NONE = 0x800000020000007n;

/** Well-formed argument words after the 3 address words, per call. */
const EXTRA: Record<string, number[]> = {
  'ibm,set-eeh-option': [1],
  'ibm,get-config-addr-info2': [1],
  'ibm,read-slot-reset-state2': [],
  'ibm,set-slot-reset': [0],
  'ibm,configure-pe': [],
  'ibm,slot-error-detail': [0, 0, 0, 0, 1],
};

const eehOps = (w: World) =>
  w.sim.trace.find('vmm.eeh_op').map((r) => `${r.fields.op}:${r.fields.rc}`);
const vfioOps = (w: World) => w.sim.trace.find('vfio.eeh.pe_op').length;

describe('every EEH call: counts, BUID, PHB without EEH', () => {
  const w = makeWorld();
  for (const spec of RTAS_EEH_CALLS) {
    it(`${spec.name}: exact nargs/nret, else -3 without touching VFIO`, () => {
      const before = vfioOps(w);
      let checked = 0;
      for (let nargs = 0; nargs <= 8; nargs++) {
        for (let nret = 1; nret <= 6; nret++) {
          if (rtasCountsOk(spec, nargs, nret)) continue;
          const args = [...addrWords(PHB0), ...(EXTRA[spec.name] ?? [])].slice(0, nargs);
          while (args.length < nargs) args.push(0);
          const r = rtas(w, spec.token, args, nret);
          expect(r.status, `${nargs}/${nret}`).toBe(RTAS_OUT_PARAM_ERROR);
          expect(r.r3).toBe(BigInt(H_SUCCESS));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(40);
      expect(vfioOps(w)).toBe(before);
    });

    it(`${spec.name}: unknown BUID and a PHB without EEH give -3`, () => {
      const nret = spec.nret[0] as number;
      for (const buid of [PHB_NONE, PHB1]) {
        const before = vfioOps(w);
        const r = rtas(w, spec.token, [...addrWords(buid), ...(EXTRA[spec.name] ?? [])], nret);
        expect(r.status).toBe(RTAS_OUT_PARAM_ERROR);
        expect(vfioOps(w)).toBe(before);
      }
    });
  }
});

describe('ibm,set-eeh-option', () => {
  const T = token('ibm,set-eeh-option');

  it('maps options 0..3 to VFIO DISABLE / ENABLE / UNFREEZE_IO / UNFREEZE_DMA', () => {
    const w = makeWorld();
    const start = eehOps(w).length;
    for (const opt of [0, 1, 2, 3])
      expect(rtas(w, T, [...addrWords(PHB0, 1), opt], 1).status).toBe(0);
    expect(eehOps(w).slice(start)).toEqual([
      'DISABLE:0',
      'ENABLE:0',
      'UNFREEZE_IO:0',
      'UNFREEZE_DMA:0',
    ]);
  });

  it('thaws a frozen PE (UNFREEZE_IO then UNFREEZE_DMA)', () => {
    const w = makeWorld();
    const pe = w.pes[0]!;
    w.ops.freeze(pe);
    expect(rtas(w, T, [...addrWords(PHB0, 1), 2], 1).status).toBe(0);
    expect(w.ops.hwOf(pe).mmioFrozen).toBe(false);
    expect(rtas(w, T, [...addrWords(PHB0, 1), 3], 1).status).toBe(0);
    expect(w.ops.hwOf(pe).dmaFrozen).toBe(false);
  });

  it('refuses other options and ENABLE for a bus without a vfio-pci device (-3)', () => {
    const w = makeWorld();
    const start = eehOps(w).length;
    expect(rtas(w, T, [...addrWords(PHB0, 1), 4], 1).status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(rtas(w, T, [...addrWords(PHB0, 1), 0xffff_ffff], 1).status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(rtas(w, T, [...addrWords(PHB0, (1 << 16) + 1), 1], 1).status).toBe(RTAS_OUT_PARAM_ERROR);
    // a device address on bus 0 works too (guests before Linux 5.9 pass one)
    expect(rtas(w, T, [...addrWords(PHB0, 0x0800), 1], 1).status).toBe(0);
    expect(eehOps(w).slice(start)).toEqual(['ENABLE:0']);
  });

  it('an ioctl failure is -1 (group without PE: -ENODEV)', () => {
    const w = makeWorld({ phbs: [{ iommuGroup: 4, devices: [{ host: '0000:04:00.0' }] }] });
    expect(w.started).toEqual({ ok: true });
    for (const opt of [0, 1, 2, 3])
      expect(rtas(w, T, [...addrWords(PHB0, 1), opt], 1).status).toBe(RTAS_OUT_HW_ERROR);
  });

  it('ENABLE with host EEH off is -1 (-EIO from the host)', () => {
    const w = makeWorld();
    w.backend.eehOn = false;
    w.eeh.enabled = false;
    expect(rtas(w, T, [...addrWords(PHB0, 1), 1], 1).status).toBe(RTAS_OUT_HW_ERROR);
  });
});

describe('ibm,get-config-addr-info2', () => {
  const T = token('ibm,get-config-addr-info2');

  it('function 0: PE address (bus << 16) + 1 of a known device; function 1: shared', () => {
    const w = makeWorld();
    const dev = w.vmm.deviceTree?.phbs[0]?.devices[0];
    expect(dev?.configAddr).toBe(0);
    expect(rtas(w, T, [...addrWords(PHB0, 0), 0], 2).rets).toEqual([0, 1]);
    expect(rtas(w, T, [...addrWords(PHB0, 0), 1], 2).rets).toEqual([0, 2]);
    expect(vfioOps(w)).toBe(1); // only the machine reset's ENABLE
  });

  it('unknown config address or function: -3', () => {
    const w = makeWorld();
    expect(rtas(w, T, [...addrWords(PHB0, 0x0800), 0], 2).status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(rtas(w, T, [...addrWords(PHB0, 0x10000), 0], 2).status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(rtas(w, T, [...addrWords(PHB0, 0), 2], 2).status).toBe(RTAS_OUT_PARAM_ERROR);
  });
});

describe('ibm,read-slot-reset-state2', () => {
  const T = token('ibm,read-slot-reset-state2');

  it('reports each PE state with "supported" and the 1000 ms hint; the 5th word only for nret 5', () => {
    const w = makeWorld();
    const pe = w.pes[0]!;
    const hw = w.ops.hwOf(pe);
    const q = (nret = 4) => rtas(w, T, addrWords(PHB0, 1), nret).rets;
    expect(q()).toEqual([0, 0, 1, 1000]);
    expect(q(5)).toEqual([0, 0, 1, 1000, 0]);
    w.ops.freeze(pe);
    expect(q()).toEqual([0, 2, 1, 1000]);
    hw.mmioFrozen = false;
    expect(q()).toEqual([0, 4, 1, 1000]);
    hw.dmaFrozen = false;
    hw.reset = true;
    expect(q()).toEqual([0, 1, 1, 1000]);
    hw.reset = false;
    w.busPe.state |= EEH_PE_ISOLATED; // the host is recovering the parent: unavailable
    expect(q(5)).toEqual([0, 5, 1, 1000, 0]);
  });

  it('a failed GET_STATE is -3 and the other words are left alone', () => {
    const w = makeWorld({ phbs: [{ iommuGroup: 4, devices: [{ host: '0000:04:00.0' }] }] });
    expect(rtas(w, T, addrWords(PHB0, 1), 4).rets).toEqual([
      RTAS_OUT_PARAM_ERROR,
      0xdeadbeef | 0,
      0xdeadbeef | 0,
      0xdeadbeef | 0,
    ]);
  });

  it('costs one exit to the VMM and one VFIO ioctl (the ~28 us of seed option d)', () => {
    const w = makeWorld();
    const r = rtas(w, T, addrWords(PHB0, 1), 4);
    const c = (n: Parameters<World['sim']['costs']['ns']>[0]) => w.sim.costs.ns(n);
    const path =
      c('hcall_kernel') + c('exit_to_userspace') + c('qemu_rtas_dispatch') + c('syscall_ioctl');
    // the fake firmware's get_state takes 430 ns
    expect(r.dt).toBe(path + 430);
    const s = w.vm.stats.summary();
    expect(s.byRtas['ibm,read-slot-reset-state2']).toEqual({ inKernel: 0, exits: 1, ns: r.dt });
    expect(w.vmm.stats.rtas.get('ibm,read-slot-reset-state2')).toMatchObject({
      calls: 1,
      statuses: { '0': 1 },
    });
  });
});

describe('ibm,set-slot-reset', () => {
  const T = token('ibm,set-slot-reset');

  it('maps 1 / 0 / 3 to RESET_HOT / RESET_DEACTIVATE / RESET_FUNDAMENTAL, others -3', () => {
    const w = makeWorld();
    const start = eehOps(w).length;
    for (const opt of [1, 0, 3, 0])
      expect(rtas(w, T, [...addrWords(PHB0, 1), opt], 1).status).toBe(0);
    expect(rtas(w, T, [...addrWords(PHB0, 1), 2], 1).status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(eehOps(w).slice(start)).toEqual([
      'RESET_HOT:0',
      'RESET_DEACTIVATE:0',
      'RESET_FUNDAMENTAL:0',
      'RESET_DEACTIVATE:0',
    ]);
    expect(w.ops.calls.filter((c) => c.startsWith('reset'))).toHaveLength(4);
    // clears MSI-X state of the PHB's devices before hot and fundamental resets only
    expect(w.vmm.phbs[0]?.devices[0]?.msixResets).toBe(2);
  });

  it('an ioctl failure is -1', () => {
    const w = makeWorld({ phbs: [{ iommuGroup: 4, devices: [{ host: '0000:04:00.0' }] }] });
    expect(rtas(w, T, [...addrWords(PHB0, 1), 1], 1).status).toBe(RTAS_OUT_HW_ERROR);
  });

  it('disables MSI-X the guest enabled (VFIO_DEVICE_SET_IRQS) before a hot reset', () => {
    const w = makeWorld({}, (h) => {
      const cfg = h.group(1).fns[0]!.config;
      cfg[0x06] = 0x10; // PCI_STATUS_CAP_LIST
      cfg[0x34] = 0x40;
      cfg.set([0x11, 0x00, 0x07, 0x00], 0x40); // MSI-X, 8 entries
    });
    const dev = w.vmm.phbs[0]!.devices[0]!;
    expect(dev.msixCap).toBe(0x40);
    const wr = token('ibm,write-pci-config');
    expect(rtas(w, wr, [...addrWords(PHB0, 0x42), 2, 0x8007], 1).status).toBe(0);
    const vdev = () => w.vfio.snapshot().groups.find((g) => g.id === 1)!.devices[0]!;
    expect(dev.msixEnabled).toBe(true);
    expect(vdev().irqType).toBe('msix');
    expect(rtas(w, T, [...addrWords(PHB0, 1), 1], 1).status).toBe(0);
    expect(dev.msixEnabled).toBe(false);
    expect(vdev().irqType).toBe('none');
    expect(w.sim.trace.find('vmm.msix').map((r) => `${r.fields.op}:${r.fields.rc}`)).toEqual([
      'enable:0',
      'disable:0',
      'reset:0',
    ]);
    // the enable bit was cleared on the device too
    expect(w.group(1).fns[0]!.config[0x43]! & 0x80).toBe(0);
  });
});

describe('ibm,configure-pe', () => {
  const T = token('ibm,configure-pe');
  it('is VFIO_EEH_PE_CONFIGURE; a failure is -3', () => {
    const w = makeWorld();
    expect(rtas(w, T, addrWords(PHB0, 1), 1).status).toBe(0);
    expect(eehOps(w).at(-1)).toBe('CONFIGURE:0');
    const bad = makeWorld({ phbs: [{ iommuGroup: 4, devices: [{ host: '0000:04:00.0' }] }] });
    expect(rtas(bad, T, addrWords(PHB0, 1), 1).status).toBe(RTAS_OUT_PARAM_ERROR);
  });
});

describe('ibm,slot-error-detail', () => {
  const T = token('ibm,slot-error-detail');
  const args = (sev: number) => [...addrWords(PHB0, 1), 0, 0, 0x30_0000, 64, sev];

  it('returns 1 (no errors found) for severity 1 and 2, -3 for others', () => {
    const w = makeWorld();
    expect(rtas(w, T, args(1), 1).status).toBe(RTAS_OUT_NO_ERRORS_FOUND);
    expect(rtas(w, T, args(2), 1).status).toBe(RTAS_OUT_NO_ERRORS_FOUND);
    expect(rtas(w, T, args(3), 1).status).toBe(RTAS_OUT_PARAM_ERROR);
    w.ops.freeze(w.pes[0]!);
    expect(rtas(w, T, args(1), 1).status).toBe(RTAS_OUT_NO_ERRORS_FOUND);
  });

  it('OPTION slotErrorDetailLog: a frozen PE gets a minimal log header', () => {
    const w = makeWorld({ slotErrorDetailLog: true });
    expect(rtas(w, T, args(1), 1).status).toBe(RTAS_OUT_NO_ERRORS_FOUND);
    w.ops.freeze(w.pes[0]!);
    expect(rtas(w, T, args(2), 1).status).toBe(RTAS_OUT_SUCCESS);
    const log = new Uint8Array(8);
    w.vm.ram.read(gpa(0x30_0000), log);
    expect([...log]).toEqual([6, (5 << 5) | (2 << 3), 0x22, 0x03, 0, 0, 0, 0]);
  });
});

describe('ibm,read-pci-config / ibm,write-pci-config', () => {
  const RD = token('ibm,read-pci-config');
  const WR = token('ibm,write-pci-config');
  const rd = (w: World, addr: number, size: number, buid = PHB0) =>
    rtas(w, RD, [...addrWords(buid, addr), size], 2);

  it('reads the device through the VFIO config region', () => {
    const w = makeWorld();
    expect(rd(w, 0, 4).rets).toEqual([0, 0x0001_1014]);
    expect(rd(w, 0, 2).rets).toEqual([0, 0x1014]);
    expect(rd(w, 3, 1).rets).toEqual([0, 0x00]);
    // extended config space: register bits 8..11 in bits 28..31
    w.group(1).fns[0]!.config.set([0x01, 0x00, 0x01, 0x00], 0x100);
    expect(rd(w, (1 << 28) | 0x00, 4).rets).toEqual([0, 0x0001_0001]);
  });

  it('emulates BARs: the guest sees its own address and sizes them as on real hardware', () => {
    const w = makeWorld();
    const bar = w.vmm.deviceTree!.phbs[0]!.devices[0]!.bars[0]!;
    expect(rd(w, PCI_BASE_ADDRESS_0, 4).rets[1]! >>> 0).toBe(bar.gpa % 2 ** 32);
    expect(rtas(w, WR, [...addrWords(PHB0, PCI_BASE_ADDRESS_0), 4, 0xffff_ffff], 1).status).toBe(0);
    expect(rd(w, PCI_BASE_ADDRESS_0, 4).rets[1]! >>> 0).toBe((~(0x4000 - 1) & 0xffff_fff0) >>> 0);
    // the device's own BAR was not written
    expect(w.group(1).fns[0]!.configLog).toEqual([]);
  });

  it('writes other registers to the device', () => {
    const w = makeWorld();
    expect(rtas(w, WR, [...addrWords(PHB0, 0x04), 2, 0x0146], 1).status).toBe(0);
    expect(w.group(1).fns[0]!.configLog).toEqual(['4/2=146']);
  });

  it('answers -1 for bad counts, sizes, alignment, range, device or BUID', () => {
    const w = makeWorld();
    expect(rtas(w, RD, [...addrWords(PHB0, 0)], 2).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rtas(w, RD, [...addrWords(PHB0, 0), 4], 1).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rd(w, 0, 3).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rd(w, 2, 4).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rd(w, 0x0800, 4).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rd(w, 0, 4, PHB_NONE).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rd(w, 0, 4, PHB1).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rtas(w, WR, [...addrWords(PHB0, 0), 4], 1).status).toBe(RTAS_OUT_HW_ERROR);
    expect(rtas(w, WR, [...addrWords(PHB0, 1), 2, 0], 1).status).toBe(RTAS_OUT_HW_ERROR);
  });
});

describe('dispatch', () => {
  it('an unknown token is -3 with r3 = H_PARAMETER; the call is traced with its name', () => {
    const w = makeWorld();
    const r = rtas(w, 0x2fff, [1, 2, 3], 1);
    expect(r.status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(r.r3).toBe(BigInt(H_PARAMETER));
    rtas(w, token('ibm,configure-pe'), addrWords(PHB0, 1), 1);
    const spans = w.sim.trace.find('vmm.rtas').map((x) => x.fields.name);
    expect(spans).toEqual(['token-0x2fff', 'ibm,configure-pe']);
    expect(w.sim.accounting.count('qemu_rtas_dispatch')).toBe(2);
  });

  it('errinjct calls exist only with the option (not in released QEMU)', () => {
    const off = makeWorld();
    expect(off.vmm.deviceTree!.rtasTokens['ibm,errinjct']).toBeUndefined();
    expect(rtas(off, token('ibm,open-errinjct'), [], 2).status).toBe(RTAS_OUT_PARAM_ERROR);

    const w = makeWorld({ rtasErrinjct: true });
    expect(w.vmm.deviceTree!.rtasTokens['ibm,errinjct']).toBe(token('ibm,errinjct'));
    const open = token('ibm,open-errinjct');
    const inj = token('ibm,errinjct');
    const close = token('ibm,close-errinjct');
    expect(rtas(w, inj, [7, 1, 0x30_0000], 1).status).toBe(-5); // not open
    expect(rtas(w, open, [], 2).rets).toEqual([1, 0]);
    expect(rtas(w, open, [], 2).rets[1]).toBe(-4); // already open
    // 32-bit IOA bus error work buffer: addr, mask, config_addr, BUID hi, BUID lo, function
    const wb = new Uint8Array(24);
    const v = new DataView(wb.buffer);
    for (const [i, x] of [0x1000, 0xffff_f000, 0, 0x0800_0000, 0x2000_0000, 4].entries()) {
      v.setUint32(4 * i, x);
    }
    w.vm.ram.write(gpa(0x30_0000), wb);
    expect(rtas(w, inj, [7, 1, 0x30_0000], 1).status).toBe(0);
    expect(w.ops.calls.at(-1)).toBe(`err_inject ${w.pes[0]!.label} 0 4`);
    expect(rtas(w, inj, [3, 1, 0x30_0000], 1).status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(rtas(w, close, [1], 1).status).toBe(0);
    expect(rtas(w, close, [1], 1).status).toBe(-5);
  });
});
