import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BOOT_FDT_GPA, encodeBootBlob, GUEST_ALLOC_BASE } from '../../src/kvm/boot.js';
import { KVM_SET_USER_MEMORY_REGION } from '../../src/kvm/uapi_memory.js';
import type { Vm } from '../../src/kvm/vm.js';
import type { Task } from '../../src/sim/scheduler.js';
import { EFAULT, EINVAL } from '../../src/uapi/errno.js';
import { H_FUNCTION, H_PARAMETER, H_RTAS, H_SUCCESS } from '../../src/uapi/hcall.js';
import { gpa, hpa } from '../../src/uapi/ids.js';
import { KVM_EXIT_PAPR_HCALL, kvm_run } from '../../src/uapi/kvm.js';
import {
  encodeRtasCall,
  RTAS_ARGS_KVM_SIZE,
  RTAS_IBM_GET_XIVE,
  RTAS_IBM_INT_OFF,
  RTAS_IBM_READ_SLOT_RESET_STATE2,
  RTAS_OUT_PARAM_ERROR,
  readRtasCall,
  writeRtasRets,
} from '../../src/uapi/rtas.js';
import { defineToken, ioctl, makeVm, memRegion, type VmSetup } from './helpers.js';

const ARGS = 0x20_0000; // GPA of the guest's rtas_args in these tests

interface Exit {
  reason: number;
  nr: bigint;
  args: bigint[];
}

/** A fake VMM run loop: records exits, answers RTAS with status 0 + `rets`, other hcalls with H_FUNCTION. */
function attachFakeVmm(s: VmSetup, vm: Vm, costNs = 0) {
  const exits: Exit[] = [];
  const errors: number[] = [];
  const rc = s.kvm.attachRunLoop(s.proc, s.vcpuFd, {
    *onExit(run: ArrayBuffer): Task<void> {
      const r = kvm_run.decode(run);
      if (!r.ok) throw new Error('bad run');
      const { exit_reason, papr_hcall } = r.value;
      exits.push({ reason: exit_reason, nr: papr_hcall.nr, args: papr_hcall.args });
      if (costNs) yield* s.sim.charge('qemu_rtas_dispatch');
      if (papr_hcall.nr === BigInt(H_RTAS)) {
        const at = (papr_hcall.args[0] ?? 0n) & 0x0fff_ffff_ffff_ffffn;
        const buf = vm.readGuest(at, RTAS_ARGS_KVM_SIZE);
        const d = buf ? readRtasCall(buf) : undefined;
        if (buf && d?.ok && d.value.nargs + d.value.nret <= 16) {
          writeRtasRets(buf, 0, d.value.nargs, [0, 42].slice(0, d.value.nret));
          vm.writeGuest(at, buf);
        }
        kvm_run.set(run, 0, 'papr_hcall.ret', BigInt(H_SUCCESS));
      } else {
        kvm_run.set(run, 0, 'papr_hcall.ret', BigInt.asUintN(64, BigInt(H_FUNCTION)));
      }
    },
    onError(e: number) {
      errors.push(e);
    },
  });
  expect(rc).toBe(0);
  return { exits, errors };
}

function setup() {
  const s = makeVm(16 << 20);
  const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
  return { s, vm, ...attachFakeVmm(s, vm) };
}

function putCall(vm: Vm, token: number, args: number[], nret: number, at = ARGS) {
  vm.ram.write(gpa(at), new Uint8Array(encodeRtasCall({ token, args, nret }, RTAS_ARGS_KVM_SIZE)));
}

function readBack(vm: Vm, at = ARGS) {
  const b = new Uint8Array(RTAS_ARGS_KVM_SIZE);
  vm.ram.read(gpa(at), b);
  const d = readRtasCall(b);
  if (!d.ok) throw new Error('unreadable');
  return d.value;
}

/** Runs one hypercall from a guest process; `dt` is the virtual time it took. */
function hcall(s: VmSetup, vm: Vm, nr: number, args: bigint[]) {
  const t0 = s.sim.now;
  const p = s.sim.spawn('guest', vm.hcall(nr, args), 'vm0');
  s.sim.run();
  return Object.assign(p, { dt: s.sim.now - t0 });
}

const ns = (s: VmSetup, ...names: Parameters<VmSetup['sim']['costs']['ns']>[0][]) =>
  names.reduce((t, n) => t + s.sim.costs.ns(n), 0);

describe('H_RTAS', () => {
  it('exits to the VMM without reading the buffer when no token is bound', () => {
    const { s, vm, exits } = setup();
    putCall(vm, RTAS_IBM_READ_SLOT_RESET_STATE2, [0x1, 0x0800_0000, 0x2000_0000], 4);
    const p = hcall(s, vm, H_RTAS, [BigInt(ARGS)]);
    expect(p.result).toBe(BigInt(H_SUCCESS));
    expect(exits).toEqual([
      {
        reason: KVM_EXIT_PAPR_HCALL,
        nr: BigInt(H_RTAS),
        args: [BigInt(ARGS), 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
      },
    ]);
    expect(readBack(vm).rets).toEqual([0, 42, 0, 0]);
    expect(p.dt).toBe(ns(s, 'hcall_kernel', 'exit_to_userspace'));
    expect(s.sim.accounting.count('kvm_rtas_lookup')).toBe(0);
    const sum = vm.stats.summary();
    expect(sum.exits).toBe(1);
    expect(sum.byRtas['ibm,read-slot-reset-state2']).toEqual({ inKernel: 0, exits: 1, ns: p.dt });
    expect(sum.exitNs).toBe(ns(s, 'exit_to_userspace'));
    expect(sum.byHcall.H_RTAS).toEqual({ calls: 1, exits: 1, ns: p.dt });
    expect(s.sim.trace.count('kvm.exit')).toBe(1);
    // the charged time is accounted to the guest's owner, in the kvm layer
    expect(s.sim.accounting.layersOf('vm0').kvm?.ns).toBe(p.dt);
  });

  it('also exits (no nargs check) for a malformed buffer when no token is bound', () => {
    const { s, vm, exits } = setup();
    putCall(vm, 0x2022, [], 1);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, 40);
    vm.ram.write(gpa(ARGS + 4), b); // nargs = 40
    const p = hcall(s, vm, H_RTAS, [BigInt(ARGS)]);
    expect(p.done).toBe(true);
    expect(exits).toHaveLength(1);
    expect(vm.fatal).toBeUndefined();
  });

  it('runs a bound in-kernel service without an exit (hcall_kernel + lookup)', () => {
    const { s, vm, exits } = setup();
    expect(defineToken(s, 'ibm,get-xive', RTAS_IBM_GET_XIVE)).toBe(0);
    putCall(vm, RTAS_IBM_GET_XIVE, [17], 3);
    const p = hcall(s, vm, H_RTAS, [BigInt(ARGS) | 0xc000_0000_0000_0000n]); // KVM_PAM masks the top bits
    expect(p.result).toBe(BigInt(H_SUCCESS));
    expect(exits).toHaveLength(0);
    expect(readBack(vm).status).toBe(RTAS_OUT_PARAM_ERROR); // MODEL: no in-kernel irqchip
    expect(p.dt).toBe(ns(s, 'hcall_kernel', 'kvm_rtas_lookup'));
    expect(vm.stats.summary().byRtas['ibm,get-xive']).toMatchObject({ inKernel: 1, exits: 0 });
    expect(s.sim.trace.find('kvm.rtas')[0]?.fields).toMatchObject({
      name: 'ibm,get-xive',
      path: 'virtual',
    });
  });

  it('keeps the guest rets pointer (bytes 80..87) and checks counts in the handler', () => {
    const { s, vm } = setup();
    expect(defineToken(s, 'ibm,int-off', RTAS_IBM_INT_OFF)).toBe(0);
    putCall(vm, RTAS_IBM_INT_OFF, [1, 2], 1);
    const tail = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    vm.ram.write(gpa(ARGS + 80), tail);
    hcall(s, vm, H_RTAS, [BigInt(ARGS)]);
    expect(readBack(vm).status).toBe(RTAS_OUT_PARAM_ERROR);
    const after = new Uint8Array(8);
    vm.ram.read(gpa(ARGS + 80), after);
    expect(after).toEqual(tail);
  });

  it('exits after the lookup when the token is not bound in the kernel', () => {
    const { s, vm, exits } = setup();
    expect(defineToken(s, 'ibm,int-off', RTAS_IBM_INT_OFF)).toBe(0);
    putCall(vm, RTAS_IBM_READ_SLOT_RESET_STATE2, [1, 2, 3], 4);
    const p = hcall(s, vm, H_RTAS, [BigInt(ARGS)]);
    expect(exits).toHaveLength(1);
    expect(p.dt).toBe(ns(s, 'hcall_kernel', 'kvm_rtas_lookup', 'exit_to_userspace'));
  });

  it('nargs >= 16 fails KVM_RUN with -EINVAL: VM-fatal, the vCPU stops, no throw', () => {
    const { s, vm, exits, errors } = setup();
    expect(defineToken(s, 'ibm,int-off', RTAS_IBM_INT_OFF)).toBe(0);
    putCall(
      vm,
      RTAS_IBM_INT_OFF,
      Array.from({ length: 15 }, () => 0),
      0,
    );
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, 16);
    vm.ram.write(gpa(ARGS + 4), b);
    const p = hcall(s, vm, H_RTAS, [BigInt(ARGS)]);
    expect(p.done).toBe(false);
    expect(vm.fatal).toMatchObject({ rc: -EINVAL, vcpu: 0 });
    expect(errors).toEqual([-EINVAL]);
    expect(exits).toHaveLength(0);
    expect(s.sim.trace.count('kvm.vm_fatal')).toBe(1);
    // a stopped VM runs no more hypercalls and its MMIO reads all 1s
    const q = hcall(s, vm, 0x4, []);
    expect(q.done).toBe(false);
    expect(vm.mmioRead(gpa(0x1000), 4)).toBe(0xffff_ffff);
  });

  it('a buffer outside guest RAM fails KVM_RUN with -EFAULT', () => {
    const { s, vm, errors } = setup();
    expect(defineToken(s, 'ibm,int-off', RTAS_IBM_INT_OFF)).toBe(0);
    const p = hcall(s, vm, H_RTAS, [BigInt(16 << 20) - 8n]);
    expect(p.done).toBe(false);
    expect(vm.fatal?.rc).toBe(-EFAULT);
    expect(errors).toEqual([-EFAULT]);
  });
});

describe('other hypercalls', () => {
  it('go to the VMM, which answers H_FUNCTION for what it does not implement', () => {
    const { s, vm, exits } = setup();
    const p = hcall(s, vm, 0x1234, [1n, 2n, -1n]);
    expect(p.result).toBe(BigInt(H_FUNCTION));
    expect(exits[0]?.args.slice(0, 3)).toEqual([1n, 2n, 0xffff_ffff_ffff_ffffn]);
    expect(vm.stats.summary().byHcall['hcall-0x1234']).toMatchObject({ calls: 1, exits: 1 });
  });

  it('throw (a set-up bug) when no VMM run loop is attached', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const p = s.sim.spawn('guest', vm.hcall(0x1234, []), 'vm0');
    expect(() => s.sim.run()).toThrow(/no VMM run loop/);
    expect(p.done).toBe(false);
  });

  it('serialise on the vCPU: one exit at a time', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const { exits } = attachFakeVmm(s, vm, 1);
    const t0 = s.sim.now;
    const a = s.sim.spawn('a', vm.hcall(0x1234, []), 'vm0');
    const b = s.sim.spawn('b', vm.hcall(0x1238, []), 'vm0');
    s.sim.run();
    expect(a.done && b.done).toBe(true);
    expect(exits.map((e) => e.nr)).toEqual([0x1234n, 0x1238n]);
    expect(s.sim.now - t0).toBe(
      2 * ns(s, 'hcall_kernel', 'exit_to_userspace', 'qemu_rtas_dispatch'),
    );
  });
});

describe('guest memory, MMIO and the device tree', () => {
  it('passes MMIO in a BAR slot to the host accessor; unmapped MMIO reads all 1s', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    expect(
      ioctl(
        s,
        s.proc,
        s.vmFd,
        KVM_SET_USER_MEMORY_REGION,
        memRegion(1, 0x100_a000_0000, 0x1_0000, 0x3fe0_0000),
      ),
    ).toBe(0);
    const t0 = s.sim.now;
    expect(vm.mmioRead(gpa(0x100_a000_0010), 4)).toBe(0x1234_5678);
    vm.mmioWrite(gpa(0x100_a000_0020), 2, 0xbeef);
    expect(vm.mmioRead(gpa(0x100_a000_fffe), 2)).toBe(0x5678);
    expect(s.mmio.log).toEqual(['r4@0x3fe00010', 'w2@0x3fe00020=0xbeef', 'r2@0x3fe0fffe']);
    expect(vm.mmioRead(gpa(0x100_a000_fffe), 4)).toBe(0xffff_ffff); // straddles the slot end
    vm.mmioWrite(gpa(0x5000_0000), 4, 1);
    expect(vm.stats.unmappedMmio).toBe(2);
    expect(s.sim.now).toBe(t0); // no exit, no charge by KVM (the guest's accessor charges mmio_*)
  });

  it('guest RAM is the VMM memory slot; the allocator starts above the boot area', () => {
    const s = makeVm(4 << 20);
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const a = vm.ram.alloc(100, 4096);
    expect(a).toBe(GUEST_ALLOC_BASE);
    expect(vm.ram.alloc(8)).toBe(GUEST_ALLOC_BASE + 104);
    vm.ram.write(a, new Uint8Array([1, 2, 3]));
    expect(s.memory.readU32(hpa(s.ram.base + a)) & 0xffffff).toBe(0x030201);
    expect(() => vm.ram.alloc(8 << 20)).toThrow(RangeError);
    expect(() => vm.ram.read(gpa(4 << 20), new Uint8Array(1))).toThrow(RangeError);
  });

  it('reads the device tree the VMM put at BOOT_FDT_GPA', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    expect(() => vm.deviceTree()).toThrow(/no device tree/);
    const tree = {
      rtasTokens: { 'ibm,configure-pe': 0x2024 },
      phbs: [{ buid: 0x800000020000000n }],
    };
    s.memory.write(hpa(s.ram.base + BOOT_FDT_GPA), encodeBootBlob(tree));
    expect(vm.deviceTree()).toEqual(tree);
  });
});

describe('property: arbitrary guest buffers and ioctl bytes', () => {
  it('H_RTAS never throws; a rejected call changes nothing but the fatal mark', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: RTAS_ARGS_KVM_SIZE }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.boolean(),
        (bytes, r4, bound) => {
          const s = makeVm(1 << 20);
          const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
          attachFakeVmm(s, vm);
          if (bound) expect(defineToken(s, 'ibm,int-off', RTAS_IBM_INT_OFF)).toBe(0);
          const at =
            Number(r4 & 0x0fff_ffff_ffff_ffffn) < (1 << 20) - RTAS_ARGS_KVM_SIZE
              ? Number(r4 & 0xfffffn)
              : ARGS % (1 << 20);
          if (at + bytes.length <= 1 << 20) vm.ram.write(gpa(at), bytes);
          const tokens = vm.rtasTokens.slice();
          const p = s.sim.spawn('g', vm.hcall(H_RTAS, [r4]), 'vm0');
          s.sim.run();
          expect(vm.rtasTokens).toEqual(tokens);
          if (!p.done) {
            expect(bound).toBe(true);
            expect([-EINVAL, -EFAULT]).toContain(vm.fatal?.rc);
          } else {
            expect([BigInt(H_SUCCESS), BigInt(H_PARAMETER)]).toContain(p.result);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('VM and device ioctls on random bytes never throw; failures leave state unchanged', () => {
    const requests = [
      KVM_SET_USER_MEMORY_REGION,
      0x4080_aeac, // KVM_PPC_RTAS_DEFINE_TOKEN
      0xc00c_aee0, // KVM_CREATE_DEVICE
      0x4020_aea8, // KVM_CREATE_SPAPR_TCE_64
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...requests),
        fc.uint8Array({ minLength: 0, maxLength: 160 }),
        (req, bytes) => {
          const s = makeVm(1 << 20);
          const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
          const snap = () =>
            JSON.stringify({
              slots: [...vm.slots.values()],
              tokens: vm.rtasTokens.map((t) => [t.service.name, String(t.token)]),
              dev: vm.hasVfioDevice,
              tce: vm.tceTables.length,
              fds: s.proc.listFds(),
            });
          const before = snap();
          const buf = bytes.buffer.slice(
            bytes.byteOffset,
            bytes.byteOffset + bytes.byteLength,
          ) as ArrayBuffer;
          const rc = ioctl(s, s.proc, s.vmFd, req, buf);
          if (rc < 0) expect(snap()).toBe(before);
          else expect(typeof rc).toBe('number');
        },
      ),
      { numRuns: 300 },
    );
  });
});
