/**
 * The sPAPR machine over the real KVM and VFIO layers: realize (fds, memory
 * slots, kvm-vfio link, device tree), failures at start, H_PUT_TCE mirrored
 * into VFIO, the pluggable EEH wiring, the bytes of VFIO_EEH_PE_OP, and a
 * property test over arbitrary guest RTAS buffers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IoctlArg } from '../../src/host/process.js';
import { EEH_PE_ISOLATED } from '../../src/kernel/eeh_consts.js';
import type { Task } from '../../src/sim/scheduler.js';
import { EINVAL, ENOENT, EPERM } from '../../src/uapi/errno.js';
import { H_FUNCTION, H_PARAMETER, H_PUT_TCE, H_RTAS, H_SUCCESS } from '../../src/uapi/hcall.js';
import { gpa } from '../../src/uapi/ids.js';
import {
  KVM_DEV_VFIO_GROUP,
  KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
  KVM_SET_DEVICE_ATTR,
  kvm_device_attr,
  kvm_vfio_eeh_mapping,
} from '../../src/uapi/kvm.js';
import {
  RTAS_ARGS_KVM_SIZE,
  RTAS_EEH_CALLS,
  RTAS_IBM_INT_OFF,
  RTAS_OUT_HW_ERROR,
  RTAS_OUT_PARAM_ERROR,
} from '../../src/uapi/rtas.js';
import { VFIO_EEH_PE_GET_STATE, VFIO_EEH_PE_OP, vfio_eeh_pe_op } from '../../src/uapi/vfio.js';
import type { EehWiring } from '../../src/vmm/eeh_wiring.js';
import { hostState } from '../vfio/fake_backend.js';
import {
  ARGS_GPA,
  addrWords,
  guestRun,
  makeWorld,
  PHB0,
  rtas,
  token,
  type World,
} from './world.js';

const hcall = (w: World, nr: number, args: bigint[]) => guestRun(w, w.vm.hcall(nr, args)).value;

describe('machine start', () => {
  it('opens KVM and VFIO through its fds and links the group to the VM', () => {
    const w = makeWorld();
    expect(w.started).toEqual({ ok: true });
    expect(w.vmm.proc.listFds().map((f) => f.kind)).toEqual([
      'kvm',
      'kvm-vm',
      'kvm-vcpu',
      'vfio-group',
      'vfio-container',
      'kvm-vfio',
      'vfio-device',
    ]);
    expect(w.vm.vfioGroups.map((g) => g.kind)).toEqual(['vfio-group']);
    expect(w.vm.rtasTokens).toEqual([]); // QEMU intercept: no EEH service in KVM
    const c = w.vfio.snapshot().containers[0]!;
    expect(c.groups).toEqual([1]);
    expect(c.iommu?.v2).toBe(true);
    expect(c.iommu?.prereg).toEqual([{ vaddr: w.vmm.mem.base, size: 16 << 20, mapped: 0 }]);
    const ops = w.sim.trace.find('vfio.ioctl').map((r) => r.fields.ioctl);
    expect(ops.slice(0, 8)).toEqual([
      'VFIO_GROUP_GET_STATUS',
      'VFIO_GET_API_VERSION',
      'VFIO_GROUP_SET_CONTAINER',
      'VFIO_CHECK_EXTENSION',
      'VFIO_SET_IOMMU',
      'VFIO_IOMMU_SPAPR_REGISTER_MEMORY',
      'VFIO_IOMMU_SPAPR_TCE_GET_INFO',
      'VFIO_CHECK_EXTENSION',
    ]);
    // the machine reset enabled EEH on the PE
    expect(w.sim.trace.find('vmm.eeh_op').map((r) => r.fields.op)).toEqual(['ENABLE']);
  });

  it('gives the guest a device tree with BUIDs, LIOBNs, devices, BARs and RTAS tokens', () => {
    const w = makeWorld();
    const tree = w.vm.deviceTree();
    expect(tree).toEqual(w.vmm.deviceTree);
    expect(tree.rtasTokens).toEqual({
      'ibm,read-pci-config': 0x2016,
      'ibm,write-pci-config': 0x2017,
      'ibm,set-eeh-option': 0x2020,
      'ibm,get-config-addr-info2': 0x2021,
      'ibm,read-slot-reset-state2': 0x2022,
      'ibm,set-slot-reset': 0x2023,
      'ibm,configure-pe': 0x2024,
      'ibm,slot-error-detail': 0x2025,
    });
    expect(tree.phbs.map((p) => [p.index, p.buid, p.eehSupported, p.dmaWindow])).toEqual([
      [0, 0x800000020000000n, true, { liobn: 0x8000_0000, iovaBase: 0, size: 0x1000_0000 }],
      [1, 0x800000020000001n, false, { liobn: 0x8000_0100, iovaBase: 0, size: 0 }],
    ]);
    const dev = tree.phbs[0]!.devices[0]!;
    expect(dev).toEqual({
      bdf: 0,
      configAddr: 0,
      vendor: 0x1014,
      device: 0x0001,
      // BAR 2 is an I/O BAR: not given to the guest (MODEL)
      bars: [{ index: 0, gpa: 0x100_a000_0000, size: 0x4000 }],
    });
  });

  it('maps the BAR so guest MMIO reaches the device without an exit', () => {
    const w = makeWorld();
    const slot = [...w.vm.slots.values()].find((s) => s.kind === 'mmio')!;
    expect(slot).toMatchObject({ gpa: 0x100_a000_0000, size: 0x4000, uaddr: 0x4_0100_0000 });
    const exits = w.vm.stats.exits;
    w.vm.mmioRead(gpa(0x100_a000_0008), 4);
    expect(w.mmio.log).toEqual(['r4@0x401000008']);
    expect(w.vm.stats.exits).toBe(exits);
  });

  it('uses the v1 IOMMU with IOMMU_ENABLE when asked', () => {
    const w = makeWorld({ iommu: 'v1' });
    const c = w.vfio.snapshot().containers[0]!;
    expect(c.iommu).toMatchObject({ v2: false, enabled: true });
  });

  it('fails cleanly: unknown group, group not viable, duplicate PHB index', () => {
    expect(makeWorld({ phbs: [{ iommuGroup: 9 }] }).started).toEqual({
      ok: false,
      step: 'phb 0: open /dev/vfio/9',
      rc: -ENOENT,
    });
    const nv = makeWorld(
      { phbs: [{ iommuGroup: 3, devices: [{ host: '0000:03:00.0' }] }] },
      (h) => {
        h.group(3).fns[1]!.vfioBound = false;
      },
    );
    expect(nv.started).toEqual({ ok: false, step: 'phb 0: group not viable', rc: -EPERM });
    expect(makeWorld({ phbs: [{}, { index: 0 }] }).started).toMatchObject({ ok: false, rc: -16 });
    const bad = makeWorld({ phbs: [{ iommuGroup: 1, devices: [{ host: '0000:09:00.0' }] }] });
    expect(bad.started).toMatchObject({
      ok: false,
      step: 'phb 0: 0000:09:00.0: VFIO_GROUP_GET_DEVICE_FD',
    });
  });

  it('puts both functions of a multi-function group on one PHB', () => {
    const w = makeWorld({
      phbs: [{ iommuGroup: 3, devices: [{ host: '0000:03:00.0' }, { host: '0000:03:00.1' }] }],
    });
    expect(w.started).toEqual({ ok: true });
    expect(w.vm.deviceTree().phbs[0]!.devices.map((d) => d.configAddr)).toEqual([0x0000, 0x0100]);
    // ibm,get-config-addr-info2: both report the PHB's one PE
    const T = token('ibm,get-config-addr-info2');
    expect(rtas(w, T, [...addrWords(PHB0, 0x0100), 0], 2).rets).toEqual([0, 1]);
  });
});

describe('guest DMA (H_PUT_TCE)', () => {
  it('mirrors each TCE into VFIO MAP_DMA / UNMAP_DMA of the PHB container', () => {
    const w = makeWorld();
    const ram = w.vmm.mem.base;
    expect(hcall(w, H_PUT_TCE, [0x8000_0000n, 0x1000n, 0x40_0000n | 3n])).toBe(BigInt(H_SUCCESS));
    expect(hcall(w, H_PUT_TCE, [0x8000_0000n, 0x2000n, 0x40_1000n | 1n])).toBe(BigInt(H_SUCCESS));
    let entries = w.vfio.snapshot().containers[0]!.iommu!.entries;
    expect(entries).toEqual([
      [1, ram + 0x40_0000, 3],
      [2, ram + 0x40_1000, 1], // a read-only TCE: MAP_DMA with VFIO_DMA_MAP_FLAG_READ only
    ]);
    expect(w.group(1).tces.get(1)).toBe(`${(ram + 0x40_0000).toString(16)}/3`);
    expect(hcall(w, H_PUT_TCE, [0x8000_0000n, 0x1000n, 0n])).toBe(BigInt(H_SUCCESS));
    entries = w.vfio.snapshot().containers[0]!.iommu!.entries;
    expect(entries.map((e) => e[0])).toEqual([2]);
    expect(w.vmm.stats).toMatchObject({ tceMaps: 2, tceUnmaps: 1, tceErrors: 0 });
  });

  it('checks the LIOBN and the window; a TCE outside RAM is only logged', () => {
    const w = makeWorld();
    expect(hcall(w, H_PUT_TCE, [0x8000_0100n, 0x1000n, 3n])).toBe(BigInt(H_PARAMETER)); // PHB 1 has no window
    expect(hcall(w, H_PUT_TCE, [0x1234n, 0x1000n, 3n])).toBe(BigInt(H_PARAMETER));
    expect(hcall(w, H_PUT_TCE, [0x8000_0000n, 0x1000_0000n, 3n])).toBe(BigInt(H_PARAMETER));
    expect(hcall(w, H_PUT_TCE, [0x8000_0000n, 0x1000n, 0x4000_0000n | 3n])).toBe(BigInt(H_SUCCESS));
    expect(w.vmm.stats.tceErrors).toBe(1);
    expect(hcall(w, 0x4, [])).toBe(BigInt(H_FUNCTION));
  });

  it('MODEL option premapped: guest RAM mapped 1:1 at start', () => {
    const w = makeWorld({ dma: 'premapped' });
    const entries = w.vfio.snapshot().containers[0]!.iommu!.entries;
    expect(entries).toHaveLength((16 << 20) / 4096);
    expect(entries[5]).toEqual([5, w.vmm.mem.base + 5 * 4096, 3]);
  });
});

describe('pluggable EEH wiring', () => {
  it('a design binds KVM services, registers mappings and edits the device tree through hooks only', () => {
    const seen: string[] = [];
    const wiring: EehWiring = {
      name: 'test-design',
      kernelRtasServices: ['ibm,int-off'],
      *phbRealized(ctx, phb): Task<number> {
        seen.push(`${phb.index}:${phb.buid.toString(16)}:${phb.devices.map((d) => d.host)}`);
        const data = kvm_vfio_eeh_mapping.encode({
          groupfd: phb.groupFd,
          buid: phb.buid,
          pe_config_addr: phb.peConfigAddr,
        });
        const attr = kvm_device_attr.encode({
          group: KVM_DEV_VFIO_GROUP,
          attr: KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
          addr: ctx.userPointer(new Uint8Array(data)),
        });
        return yield* ctx.ioctl(ctx.kvmVfioFd as number, KVM_SET_DEVICE_ATTR, attr);
      },
      deviceTree: (t) => ({ ...t, rtasTokens: { ...t.rtasTokens, 'x,test': 1 } }),
    };
    // upstream KVM refuses the experimental attribute: the machine does not start
    const refused = makeWorld({ wiring });
    expect(refused.started).toMatchObject({ ok: false, step: 'phb 0: test-design wiring', rc: -6 });
    const w = makeWorld({ wiring }, undefined, { experimentalEehMapping: true });
    expect(w.started).toEqual({ ok: true });
    expect(seen.at(-1)).toBe('0:800000020000000:0000:01:00.0');
    expect(w.vm.eehMappings.map((m) => [m.buid, m.peConfigAddr])).toEqual([
      [0x800000020000000n, 1],
    ]);
    expect(w.vm.rtasTokens.map((t) => [t.service.name, Number(t.token)])).toEqual([
      ['ibm,int-off', RTAS_IBM_INT_OFF],
    ]);
    expect(w.vm.deviceTree().rtasTokens['x,test']).toBe(1);
    expect(w.vm.deviceTree().rtasTokens['ibm,int-off']).toBe(RTAS_IBM_INT_OFF);
  });

  it('with a bound token, nargs >= 16 fails KVM_RUN and the VMM records the stopped VM', () => {
    const wiring: EehWiring = { name: 'xics', kernelRtasServices: ['ibm,int-off'] };
    const w = makeWorld({ wiring });
    const buf = new Uint8Array(RTAS_ARGS_KVM_SIZE);
    new DataView(buf.buffer).setUint32(4, 16);
    w.vm.ram.write(gpa(ARGS_GPA), buf);
    const p = w.sim.spawn('g', w.vm.hcall(H_RTAS, [BigInt(ARGS_GPA)]), 'vm0');
    w.sim.run();
    expect(p.done).toBe(false);
    expect(w.vmm.stats.runError).toEqual({ rc: -EINVAL, reason: 'H_RTAS: nargs 16 >= 16' });
  });

  it('without one (QEMU intercept), the same buffer reaches the VMM, which answers -3', () => {
    const w = makeWorld();
    const r = rtas(w, token('ibm,configure-pe'), new Array(16).fill(0), 1);
    expect(r.status).toBe(RTAS_OUT_PARAM_ERROR);
    expect(w.vm.fatal).toBeUndefined();
  });
});

describe('bytes on the VFIO boundary', () => {
  it('VFIO_EEH_PE_OP carries argsz 40, flags 0 and the op; GET_STATE reads the return value', () => {
    const w = makeWorld();
    const file = w.vmm.proc.file(w.vmm.phbs[0]!.containerFd!)!;
    const seen: number[][] = [];
    const orig = file.ioctl.bind(file);
    file.ioctl = function* (proc, req: number, arg: IoctlArg) {
      if (req === VFIO_EEH_PE_OP && arg instanceof ArrayBuffer) {
        const d = vfio_eeh_pe_op.decode(arg);
        if (d.ok) seen.push([arg.byteLength, d.value.argsz, d.value.flags, d.value.op]);
      }
      return yield* orig(proc, req, arg);
    };
    w.ops.freeze(w.pes[0]!);
    expect(rtas(w, token('ibm,read-slot-reset-state2'), addrWords(PHB0, 1), 4).rets[1]).toBe(2);
    expect(seen).toEqual([[40, 40, 0, VFIO_EEH_PE_GET_STATE]]);
  });
});

describe('property: arbitrary RTAS buffers from the guest', () => {
  it('never throw; a rejected EEH call leaves the host unchanged', () => {
    const w = makeWorld();
    const tokens = [...RTAS_EEH_CALLS.map((c) => c.token), 0x2016, 0x2017, 0x2fff];
    fc.assert(
      fc.property(
        fc.constantFrom(...tokens),
        fc.array(
          fc.oneof(fc.constantFrom(0, 1, 2, 3, 0x0800_0000, 0x2000_0000, 0x2000_0001), fc.nat()),
          { maxLength: 15 },
        ),
        fc.integer({ min: 0, max: 6 }),
        (tok, args, nret) => {
          w.busPe.state &= ~EEH_PE_ISOLATED;
          const before = JSON.stringify(hostState(w));
          const r = rtas(w, tok, args, Math.min(nret, 16 - args.length));
          if (r.status === RTAS_OUT_PARAM_ERROR || r.status === RTAS_OUT_HW_ERROR) {
            if (tok !== 0x2017) expect(JSON.stringify(hostState(w))).toBe(before);
          }
          expect(w.vm.fatal).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });
});
