import { describe, expect, it } from 'vitest';
import {
  KVM_CAP_NR_MEMSLOTS,
  KVM_MEM_READONLY,
  KVM_SET_USER_MEMORY_REGION,
  KVM_VM_PPC_PR,
} from '../../src/kvm/uapi_memory.js';
import { copyToUser } from '../../src/kvm/user_memory.js';
import {
  EBADF,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  EIO,
  ENODEV,
  ENOENT,
  ENOTTY,
  EPERM,
} from '../../src/uapi/errno.js';
import {
  KVM_API_VERSION,
  KVM_CAP_PPC_RTAS,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_DEVICE,
  KVM_CREATE_DEVICE_TEST,
  KVM_CREATE_SPAPR_TCE_64,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_DEV_TYPE_VFIO,
  KVM_DEV_TYPE_XICS,
  KVM_DEV_VFIO_GROUP,
  KVM_DEV_VFIO_GROUP_ADD,
  KVM_DEV_VFIO_GROUP_DEL,
  KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
  KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE,
  KVM_GET_API_VERSION,
  KVM_GET_DEVICE_ATTR,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_HAS_DEVICE_ATTR,
  KVM_PPC_RTAS_DEFINE_TOKEN,
  KVM_RUN,
  KVM_SET_DEVICE_ATTR,
  kvm_create_device,
  kvm_create_spapr_tce_64,
  kvm_device_attr,
  kvm_vfio_eeh_mapping,
  kvm_vfio_spapr_tce,
} from '../../src/uapi/kvm.js';
import { RTAS_IBM_READ_SLOT_RESET_STATE2, RTAS_IBM_SET_XIVE } from '../../src/uapi/rtas.js';
import {
  createVfioDevice,
  defineToken,
  fakeGroupFile,
  ioctl,
  makeVm,
  makeWorld,
  memRegion,
  open,
  run,
  tokenArgs,
  userPage,
  type VmSetup,
} from './helpers.js';

const ENXIO = 6;

describe('/dev/kvm system fd', () => {
  it('opens only /dev/kvm', () => {
    const w = makeWorld();
    const p = w.sys.spawnProcess('vm0');
    expect(open(w, p, '/dev/kvm')).toBe(3);
    expect(open(w, p, '/dev/kvmx')).toBe(-ENOENT);
    expect(p.listFds()).toEqual([{ fd: 3, kind: 'kvm' }]);
  });

  it('answers the API version, extensions and the run-area size', () => {
    const w = makeWorld();
    const p = w.sys.spawnProcess('vm0');
    const fd = open(w, p, '/dev/kvm');
    expect(ioctl(w, p, fd, KVM_GET_API_VERSION, 0)).toBe(KVM_API_VERSION);
    expect(ioctl(w, p, fd, KVM_GET_API_VERSION, 1)).toBe(-EINVAL);
    expect(ioctl(w, p, fd, KVM_CHECK_EXTENSION, KVM_CAP_PPC_RTAS)).toBe(1);
    expect(ioctl(w, p, fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS)).toBe(512);
    expect(ioctl(w, p, fd, KVM_CHECK_EXTENSION, 9999)).toBe(0);
    expect(ioctl(w, p, fd, KVM_GET_VCPU_MMAP_SIZE, 0)).toBe(4096);
    expect(ioctl(w, p, fd, KVM_CREATE_VCPU, 0)).toBe(-EINVAL);
    expect(w.sim.accounting.count('syscall_ioctl')).toBe(7);
  });

  it('creates VMs of the default or HV type only', () => {
    const w = makeWorld();
    const p = w.sys.spawnProcess('vm0');
    const fd = open(w, p, '/dev/kvm');
    expect(ioctl(w, p, fd, KVM_CREATE_VM, KVM_VM_PPC_PR)).toBe(-EINVAL);
    expect(ioctl(w, p, fd, KVM_CREATE_VM, new ArrayBuffer(8))).toBe(-EINVAL);
    const vmFd = ioctl(w, p, fd, KVM_CREATE_VM, 0);
    expect(p.file(vmFd)?.kind).toBe('kvm-vm');
    expect(w.kvm.vmByName('vm0')).toBe(w.kvm.vmOf(p, vmFd));
    expect(ioctl(w, p, fd, KVM_CREATE_VM, 1)).toBeGreaterThan(vmFd);
    expect(w.kvm.vms.map((v) => v.vmName)).toEqual(['vm0', 'vm0.1']);
  });
});

describe('VM fd', () => {
  it('creates vCPUs once per id', () => {
    const s = makeVm();
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_VCPU, 0)).toBe(-EEXIST);
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_VCPU, 2048)).toBe(-EINVAL);
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_VCPU, -1)).toBe(-EINVAL);
    const fd1 = ioctl(s, s.proc, s.vmFd, KVM_CREATE_VCPU, 1);
    expect(s.proc.file(fd1)?.kind).toBe('kvm-vcpu');
    expect(ioctl(s, s.proc, s.vmFd, KVM_CHECK_EXTENSION, KVM_CAP_PPC_RTAS)).toBe(1);
    expect(ioctl(s, s.proc, s.vmFd, 0xdead, 0)).toBe(-ENOTTY);
    // MODEL: KVM_RUN is the attached run loop, not an ioctl.
    expect(ioctl(s, s.proc, s.vcpuFd, KVM_RUN, 0)).toBe(-EINVAL);
  });

  it('refuses ioctls from a process that is not the VM creator (-EIO)', () => {
    const s = makeVm();
    const other = s.sys.spawnProcess('intruder');
    const vmFile = s.proc.file(s.vmFd);
    if (!vmFile) throw new Error('no vm file');
    const fd = other.install(vmFile); // as if passed over a unix socket
    expect(ioctl(s, other, fd, KVM_CREATE_VCPU, 5)).toBe(-EIO);
    expect(s.kvm.vmOf(s.proc, s.vmFd)?.vcpus.has(5)).toBe(false);
  });

  it('registers the run loop only for its own vCPU fds', () => {
    const s = makeVm();
    const h = { *onExit() {} };
    expect(s.kvm.attachRunLoop(s.proc, 99, h)).toBe(-EBADF);
    expect(s.kvm.attachRunLoop(s.proc, s.vmFd, h)).toBe(-EINVAL);
    const other = s.sys.spawnProcess('other');
    const f = s.proc.file(s.vcpuFd);
    if (!f) throw new Error('no vcpu file');
    expect(s.kvm.attachRunLoop(other, other.install(f), h)).toBe(-EIO);
    expect(s.kvm.attachRunLoop(s.proc, s.vcpuFd, h)).toBe(0);
  });
});

describe('KVM_SET_USER_MEMORY_REGION', () => {
  const setup = () => {
    const s = makeVm(1 << 20);
    return {
      s,
      vm: s.kvm.vmOf(s.proc, s.vmFd)!,
      set: (b: ArrayBuffer | number) => ioctl(s, s.proc, s.vmFd, KVM_SET_USER_MEMORY_REGION, b),
    };
  };

  it('maps host RAM as a RAM slot and a device address as an MMIO slot', () => {
    const { s, vm, set } = setup();
    expect(vm.slots.get(0)).toMatchObject({
      kind: 'ram',
      gpa: 0,
      size: 1 << 20,
      uaddr: s.ram.base,
    });
    expect(set(memRegion(1, 0x1000_0000, 0x1_0000, 0x3fe0_0000))).toBe(0);
    expect(vm.slots.get(1)?.kind).toBe('mmio');
    expect(vm.ram.size).toBe(1 << 20);
  });

  it('rejects bad flags, alignment, slot ids, overlaps, unmapped host RAM and short buffers', () => {
    const { s, vm, set } = setup();
    const before = [...vm.slots.values()];
    expect(set(memRegion(1, 0x1000_0000, 0x1000, 0x3fe0_0000, KVM_MEM_READONLY))).toBe(-EINVAL);
    expect(set(memRegion(1, 0x1000_0800, 0x1000, 0x3fe0_0000))).toBe(-EINVAL);
    expect(set(memRegion(1, 0x1000_0000, 0x800, 0x3fe0_0000))).toBe(-EINVAL);
    expect(set(memRegion(1, 0x1000_0000, 0x1000, 0x3fe0_0800))).toBe(-EINVAL);
    expect(set(memRegion(512, 0x1000_0000, 0x1000, 0x3fe0_0000))).toBe(-EINVAL);
    expect(set(memRegion(1, 0x8_0000, 0x1000, 0x3fe0_0000))).toBe(-EEXIST);
    // inside the host RAM range but not allocated: refused (MODEL)
    expect(set(memRegion(1, 0x1000_0000, 0x1000, s.memory.base + 0x4000_0000))).toBe(-EFAULT);
    // memory another process mapped is not the caller's
    const theirs = s.sys.mmapAnonymous(s.sys.spawnProcess('other'), 0x1000);
    expect(set(memRegion(1, 0x1000_0000, 0x1000, theirs))).toBe(-EFAULT);
    expect(set(memRegion(3, 0, 0, 0))).toBe(-EINVAL); // delete of a slot that does not exist
    expect(set(new ArrayBuffer(31))).toBe(-EFAULT);
    expect(set(0x1000)).toBe(-EFAULT);
    // resizing an existing slot
    expect(set(memRegion(0, 0, 0x2000, s.ram.base))).toBe(-EINVAL);
    expect([...vm.slots.values()]).toEqual(before);
  });

  it('moves and deletes a slot', () => {
    const { vm, set } = setup();
    expect(set(memRegion(1, 0x1000_0000, 0x1000, 0x3fe0_0000))).toBe(0);
    expect(set(memRegion(1, 0x2000_0000, 0x1000, 0x3fe0_0000))).toBe(0);
    expect(vm.slots.get(1)?.gpa).toBe(0x2000_0000);
    expect(set(memRegion(1, 0, 0, 0))).toBe(0);
    expect(vm.slots.has(1)).toBe(false);
  });
});

describe('KVM_PPC_RTAS_DEFINE_TOKEN', () => {
  it('binds XICS names, refuses EEH names and duplicate tokens, unbinds with token 0', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    expect(defineToken(s, 'ibm,set-xive', RTAS_IBM_SET_XIVE)).toBe(0);
    expect(defineToken(s, 'ibm,get-xive', RTAS_IBM_SET_XIVE)).toBe(-EEXIST);
    // No in-kernel EEH service upstream: every EEH call goes to the VMM.
    expect(defineToken(s, 'ibm,read-slot-reset-state2', RTAS_IBM_READ_SLOT_RESET_STATE2)).toBe(
      -ENOENT,
    );
    expect(defineToken(s, 'x'.repeat(120), 0x3000)).toBe(-ENOENT);
    // the same name may be bound to a second token (no check upstream)
    expect(defineToken(s, 'ibm,set-xive', 0x3001)).toBe(0);
    expect(vm.rtasTokens.map((t) => [t.service.name, t.token])).toEqual([
      ['ibm,set-xive', BigInt(RTAS_IBM_SET_XIVE)],
      ['ibm,set-xive', 0x3001n],
    ]);
    expect(defineToken(s, 'ibm,set-xive', 0)).toBe(0);
    expect(vm.rtasTokens.map((t) => t.token)).toEqual([0x3001n]);
    expect(defineToken(s, 'ibm,int-on', 0)).toBe(0); // undefining an undefined token is fine
    expect(vm.rtasTokens).toHaveLength(1);
    expect(s.sim.trace.count('kvm.rtas_token')).toBe(7);
  });

  it('faults on a short or missing buffer without touching the table', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const short = tokenArgs('ibm,int-off', 0x200c).slice(0, 127);
    expect(ioctl(s, s.proc, s.vmFd, KVM_PPC_RTAS_DEFINE_TOKEN, short)).toBe(-EFAULT);
    expect(ioctl(s, s.proc, s.vmFd, KVM_PPC_RTAS_DEFINE_TOKEN, 0)).toBe(-EFAULT);
    expect(vm.rtasTokens).toHaveLength(0);
  });
});

describe('kvm-vfio device', () => {
  function attr(
    s: VmSetup,
    devFd: number,
    a: number,
    data: Uint8Array | undefined,
    req = KVM_SET_DEVICE_ATTR,
    group = KVM_DEV_VFIO_GROUP,
  ) {
    let addr = 0;
    if (data) {
      const page = userPage(s, s.proc);
      expect(copyToUser(s.memory, s.proc, page, data)).toBe(true);
      addr = page;
    }
    return ioctl(s, s.proc, devFd, req, kvm_device_attr.encode({ group, attr: a, addr }));
  }
  const s32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    return b;
  };

  it('KVM_CREATE_DEVICE: one kvm-vfio per VM, fd written back; test flag; unknown types', () => {
    const s = makeVm();
    const test = kvm_create_device.encode({
      type: KVM_DEV_TYPE_VFIO,
      flags: KVM_CREATE_DEVICE_TEST,
    });
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_DEVICE, test)).toBe(0);
    expect(kvm_create_device.get(test, 0, 'fd')).toBe(0);
    const devFd = createVfioDevice(s);
    expect(s.proc.file(devFd)?.kind).toBe('kvm-vfio');
    const again = kvm_create_device.encode({ type: KVM_DEV_TYPE_VFIO });
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_DEVICE, again)).toBe(-EBUSY);
    // MODEL: no in-kernel XICS device
    expect(
      ioctl(
        s,
        s.proc,
        s.vmFd,
        KVM_CREATE_DEVICE,
        kvm_create_device.encode({ type: KVM_DEV_TYPE_XICS }),
      ),
    ).toBe(-ENODEV);
    expect(
      ioctl(s, s.proc, s.vmFd, KVM_CREATE_DEVICE, kvm_create_device.encode({ type: 99 })),
    ).toBe(-ENODEV);
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_DEVICE, new ArrayBuffer(11))).toBe(-EFAULT);
  });

  it('GROUP_ADD resolves the fd in the caller and accepts only VFIO group files', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const dev = createVfioDevice(s);
    const group = fakeGroupFile();
    const gfd = s.proc.install(group);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(gfd))).toBe(0);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(gfd))).toBe(-EEXIST);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(s.vmFd))).toBe(-EINVAL);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(77))).toBe(-EBADF);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, undefined)).toBe(-EFAULT); // addr 0
    // a pointer into another process's memory faults
    const other = s.sys.spawnProcess('other');
    const theirs = s.sys.mmapAnonymous(other, 4096);
    expect(copyToUser(s.memory, other, theirs, s32(gfd))).toBe(true);
    const a = kvm_device_attr.encode({
      group: KVM_DEV_VFIO_GROUP,
      attr: KVM_DEV_VFIO_GROUP_ADD,
      addr: theirs,
    });
    expect(ioctl(s, s.proc, dev, KVM_SET_DEVICE_ATTR, a)).toBe(-EFAULT);
    expect(vm.vfioGroups).toEqual([group]);
  });

  it('a VMM cannot link a group it did not open', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const dev = createVfioDevice(s);
    const owner = s.sys.spawnProcess('other-vmm');
    const first = owner.install(fakeGroupFile()); // fd 3 there; fd 3 here is /dev/kvm
    expect(first).toBe(s.kvmFd);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(first))).toBe(-EINVAL);
    for (let i = 0; i < 8; i++) owner.install(fakeGroupFile());
    const last = owner.install(fakeGroupFile());
    expect(s.proc.file(last)).toBeUndefined();
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(last))).toBe(-EBADF);
    expect(vm.vfioGroups).toHaveLength(0);
  });

  it('GROUP_DEL unlinks a linked group once', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const dev = createVfioDevice(s);
    const gfd = s.proc.install(fakeGroupFile());
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_DEL, s32(gfd))).toBe(-ENOENT);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(gfd))).toBe(0);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_DEL, s32(99))).toBe(-EBADF);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_DEL, s32(gfd))).toBe(0);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_DEL, s32(gfd))).toBe(-ENOENT);
    expect(vm.vfioGroups).toHaveLength(0);
  });

  it('GROUP_SET_SPAPR_TCE links a linked group to a TCE table of this VM', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const dev = createVfioDevice(s);
    const group = fakeGroupFile();
    const gfd = s.proc.install(group);
    const tce = kvm_create_spapr_tce_64.encode({
      liobn: 0x8000_0000,
      page_shift: 12,
      size: 0x10000,
    });
    const tfd = ioctl(s, s.proc, s.vmFd, KVM_CREATE_SPAPR_TCE_64, tce);
    expect(s.proc.file(tfd)?.kind).toBe('kvm-spapr-tce');
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_SPAPR_TCE_64, tce)).toBe(-EBUSY);
    const bad = kvm_create_spapr_tce_64.encode({ liobn: 1, page_shift: 11, size: 1 });
    expect(ioctl(s, s.proc, s.vmFd, KVM_CREATE_SPAPR_TCE_64, bad)).toBe(-EINVAL);
    const link = (g: number, t: number) =>
      attr(
        s,
        dev,
        KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE,
        new Uint8Array(kvm_vfio_spapr_tce.encode({ groupfd: g, tablefd: t })),
      );
    expect(link(gfd, tfd)).toBe(-ENOENT); // not added yet
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(gfd))).toBe(0);
    expect(link(99, tfd)).toBe(-EBADF);
    expect(link(gfd, 99)).toBe(-EBADF);
    expect(link(gfd, s.vmFd)).toBe(-EINVAL);
    expect(link(gfd, tfd)).toBe(0);
    expect([...(vm.tceTables[0]?.groups ?? [])]).toEqual([group]);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_DEL, s32(gfd))).toBe(0);
    expect(vm.tceTables[0]?.groups.size).toBe(0);
  });

  it('answers unknown groups/attributes, GET and HAS like virt/kvm/vfio.c', () => {
    const s = makeVm();
    const dev = createVfioDevice(s);
    expect(attr(s, dev, 77, s32(3))).toBe(-ENXIO);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(3), KVM_SET_DEVICE_ATTR, 2)).toBe(-ENXIO);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, undefined, KVM_GET_DEVICE_ATTR)).toBe(-EPERM);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE, undefined, KVM_HAS_DEVICE_ATTR)).toBe(0);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING, undefined, KVM_HAS_DEVICE_ATTR)).toBe(
      -ENXIO,
    );
    expect(ioctl(s, s.proc, dev, KVM_SET_DEVICE_ATTR, new ArrayBuffer(23))).toBe(-EFAULT);
    expect(ioctl(s, s.proc, dev, KVM_CREATE_VCPU, 0)).toBe(-ENOTTY);
    // upstream has no EEH mapping attribute
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING, new Uint8Array(24))).toBe(-ENXIO);
  });

  it('EXPERIMENTAL (never merged) SET_EEH_MAPPING is stored when enabled', () => {
    const s = makeVm(16 << 20, { experimentalEehMapping: true });
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const dev = createVfioDevice(s);
    const g1 = s.proc.install(fakeGroupFile());
    const g2 = s.proc.install(fakeGroupFile());
    const map = (groupfd: number, flags = 0, pe = 1) =>
      attr(
        s,
        dev,
        KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING,
        new Uint8Array(
          kvm_vfio_eeh_mapping.encode({
            groupfd,
            flags,
            buid: 0x8000_0002_0000_000n,
            pe_config_addr: pe,
          }),
        ),
      );
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING, undefined, KVM_HAS_DEVICE_ATTR)).toBe(
      0,
    );
    expect(map(g1)).toBe(-ENOENT);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(g1))).toBe(0);
    expect(attr(s, dev, KVM_DEV_VFIO_GROUP_ADD, s32(g2))).toBe(0);
    expect(map(g1, 1)).toBe(-EINVAL);
    expect(map(s.vmFd)).toBe(-EINVAL);
    expect(map(55)).toBe(-EBADF);
    expect(map(g1)).toBe(0);
    expect(map(g2)).toBe(-EEXIST);
    expect(map(g2, 0, 0x10001)).toBe(0);
    expect(vm.eehMappings.map((m) => [m.peConfigAddr, m.buid])).toEqual([
      [1, 0x8000_0002_0000_000n],
      [0x10001, 0x8000_0002_0000_000n],
    ]);
  });

  it('closing every fd destroys the VM and drops its links', () => {
    const s = makeVm();
    const vm = s.kvm.vmOf(s.proc, s.vmFd)!;
    const dev = createVfioDevice(s);
    expect(defineToken(s, 'ibm,int-on', 0x200d)).toBe(0);
    for (const fd of [dev, s.vcpuFd]) expect(run(s, s.sys.close(s.proc, fd))).toBe(0);
    expect(s.kvm.vms).toContain(vm);
    expect(run(s, s.sys.close(s.proc, s.vmFd))).toBe(0);
    expect(s.kvm.vms).not.toContain(vm);
    expect(vm.rtasTokens).toHaveLength(0);
  });
});
