/**
 * ABI conformance: every constant, ioctl number, struct size, field offset,
 * field size and field type exported by src/uapi/{vfio,kvm,eeh}.ts is
 * compared with the real Linux headers, compiled with `cc`:
 *
 * - host: this machine's <linux/vfio.h> and <linux/kvm.h> (x86-64,
 *   generic _IOC encoding - the model's request numbers);
 * - powerpc: the same headers plus <asm/kvm.h> and <asm/eeh.h> from the
 *   powerpc uapi headers (Debian linux-libc-dev-ppc64el-cross), where every
 *   request number must equal `toPowerpc()` of the model's.
 *
 * The C programs are generated from the modules' exports (test/uapi/cabi.ts),
 * so nothing is listed twice. Experimental (never merged) ABI is excluded
 * from the comparison and instead must not collide with any real ioctl or
 * kvm-vfio attribute of the installed headers.
 *
 * Missing tools make the test fail with the command to install them; it is
 * never skipped (scripts/ensure-system-deps.mjs, the `pretest` step, installs
 * them).
 */
import { describe, expect, it } from 'vitest';
import { isStruct } from '../../src/uapi/codec.js';
import * as experimental from '../../src/uapi/experimental.js';
import { _IOC_SIZESHIFT, decodeIoc, IOC_GENERIC, toPowerpc } from '../../src/uapi/ioctl.js';
import * as kvm from '../../src/uapi/kvm.js';
import * as vfio from '../../src/uapi/vfio.js';
import {
  type COutput,
  collect,
  compileAndRun,
  cProgram,
  HOST_INCLUDE,
  headerIoctls,
  headerKvmVfioAttrs,
  headerStructMembers,
  MODULES,
  POWERPC_INCLUDE,
  parseOutput,
  type Target,
} from './cabi.js';

const { consts, structs } = collect();

interface Checked {
  consts: number;
  ioctls: number;
  absent: string[];
  structs: number;
  fields: number;
}

function compare(target: Target, out: COutput): { mismatches: string[]; checked: Checked } {
  const mismatches: string[] = [];
  const checked: Checked = { consts: 0, ioctls: 0, absent: [], structs: 0, fields: 0 };
  for (const c of consts) {
    const m = c.module;
    if (!m.targets.includes(target) || (target === 'host' && m.powerpcOnly.has(c.name))) continue;
    if (out.absent.has(c.name)) {
      // Explicitly allowed: a newer name the installed header predates.
      expect(m.addedIn[c.name], `${c.name} absent from the ${target} header`).toBeDefined();
      checked.absent.push(`${c.name} (${m.addedIn[c.name]})`);
      continue;
    }
    const isIoctl = m.ioctlNames.has(c.name);
    const expected =
      target === 'powerpc' && isIoctl ? toPowerpc(Number(c.value)) : (c.value as number | bigint);
    const got = out.consts.get(c.name);
    if (got === undefined) mismatches.push(`${target}: ${c.name} not printed`);
    else if (got !== String(expected)) {
      mismatches.push(`${target}: ${c.name} = ${got} in C, ${expected} in TS`);
    }
    if (isIoctl) checked.ioctls++;
    else checked.consts++;
  }
  for (const { module: m, name, struct: s } of structs) {
    if (!m.targets.includes(target) || (target === 'host' && m.powerpcOnly.has(name))) continue;
    checked.structs++;
    if (!s.c.partial) {
      const size = out.sizes.get(name);
      if (size !== s.size)
        mismatches.push(`${target}: sizeof ${name} = ${size} in C, ${s.size} in TS`);
    }
    const fields = s.flatFields().map((f) => ({ ...f, type: f.type as string }));
    if (s.flex)
      fields.push({ path: s.flex.name, offset: s.flex.offset, size: 0, type: s.flex.type });
    for (const f of fields) {
      checked.fields++;
      const got = out.fields.get(`${name} ${f.path}`);
      const want: [number, number, string] = [f.offset, f.size, f.type];
      if (!got) mismatches.push(`${target}: ${name}.${f.path} not printed`);
      else if (got.join() !== want.join()) {
        mismatches.push(
          `${target}: ${name}.${f.path} (offset, size, type) = (${got}) in C, (${want}) in TS`,
        );
      }
    }
  }
  return { mismatches, checked };
}

describe.each<Target>(['host', 'powerpc'])('ABI vs the %s headers', (target) => {
  it('every exported constant, ioctl number, struct size and field matches the C header', () => {
    const source = cProgram(target, consts, structs);
    const out = parseOutput(compileAndRun(target, source));
    const { mismatches, checked } = compare(target, out);
    expect(mismatches).toEqual([]);
    // Nothing printed by C was left unchecked, and something was checked.
    expect(out.consts.size).toBe(checked.consts + checked.ioctls);
    expect(checked.ioctls).toBeGreaterThan(20);
    expect(checked.structs).toBeGreaterThan(10);
    console.log(
      `ABI ${target}: ${checked.ioctls} ioctl numbers, ${checked.consts} constants, ` +
        `${checked.structs} structs, ${checked.fields} fields checked` +
        (checked.absent.length ? `; absent from this header: ${checked.absent.join(', ')}` : ''),
    );
  });
});

describe('TS layouts name every member of the C struct', () => {
  const headerFor = (name: string, target: Target): string[] => {
    const root = target === 'host' ? HOST_INCLUDE : POWERPC_INCLUDE;
    return kvm.KVM_POWERPC_ONLY.has(name)
      ? [`${POWERPC_INCLUDE}/asm/kvm.h`]
      : [`${root}/linux/vfio.h`, `${root}/linux/kvm.h`];
  };
  for (const { name, struct: s, module: m } of structs) {
    if (s.c.member || s.c.partial) continue; // anonymous / partial by design
    it(`${name}`, () => {
      const target: Target = m.powerpcOnly.has(name) ? 'powerpc' : 'host';
      const tag = s.c.type.replace(/^struct\s+/, '');
      const members = headerFor(name, target)
        .map((f) => headerStructMembers(f, tag))
        .find((x) => x !== undefined);
      expect(members, `struct ${tag} not found in the headers`).toBeDefined();
      const ts = [...Object.keys(s.fields), ...(s.flex ? [s.flex.name] : [])];
      expect(ts.sort()).toEqual([...(members as string[])].sort());
    });
  }
});

describe('experimental (never merged) ABI does not collide with real ABI', () => {
  const files = (root: string) => [
    `${root}/linux/vfio.h`,
    `${root}/linux/iommufd.h`,
    `${root}/linux/kvm.h`,
  ];
  const real = [...headerIoctls(files(HOST_INCLUDE)), ...headerIoctls(files(POWERPC_INCLUDE))];

  it('the header scan finds the real ioctls (sanity)', () => {
    expect(real.filter((r) => r.type === 0x3b).length).toBeGreaterThan(20);
    expect(real.filter((r) => r.type === 0xae).length).toBeGreaterThan(100);
    expect(real.find((r) => r.name === 'VFIO_EEH_PE_OP')?.nr).toBe(vfio.VFIO_BASE + 21);
  });

  it('VFIO_DEVICE_SET_ADDR_MAPPING uses a VFIO nr no real ioctl uses', () => {
    const f = decodeIoc(IOC_GENERIC, experimental.VFIO_DEVICE_SET_ADDR_MAPPING);
    expect(f).toEqual({ dir: 'none', type: vfio.VFIO_TYPE, nr: 0x7f, size: 0 });
    // Inside vfio.h's registered range (ioctl-number.rst: ';' 64-7F).
    expect(f?.nr).toBeGreaterThanOrEqual(0x64);
    expect(f?.nr).toBeLessThanOrEqual(0x7f);
    const clash = real.filter((r) => r.type === vfio.VFIO_TYPE && r.nr === f?.nr);
    expect(clash).toEqual([]);
    // ... and no request number of the model equals it, in either encoding.
    const all = consts.filter((c) => MODULES.some((m) => m.ioctlNames.has(c.name)));
    for (const c of all) {
      expect(c.value).not.toBe(experimental.VFIO_DEVICE_SET_ADDR_MAPPING);
      expect(toPowerpc(Number(c.value))).not.toBe(
        toPowerpc(experimental.VFIO_DEVICE_SET_ADDR_MAPPING),
      );
    }
  });

  it('KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING differs from every kvm-vfio value', () => {
    for (const root of [HOST_INCLUDE, POWERPC_INCLUDE]) {
      const attrs = headerKvmVfioAttrs(`${root}/linux/kvm.h`);
      expect(attrs.get('KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE')).toBe(3);
      expect([...attrs.values()]).not.toContain(experimental.KVM_DEV_VFIO_GROUP_SET_EEH_MAPPING);
    }
  });

  it('experimental exports are re-exported unchanged and excluded from the C comparison', () => {
    expect(vfio.VFIO_DEVICE_SET_ADDR_MAPPING).toBe(experimental.VFIO_DEVICE_SET_ADDR_MAPPING);
    expect(vfio.vfio_device_addr_mapping).toBe(experimental.vfio_device_addr_mapping);
    expect(kvm.kvm_vfio_eeh_mapping).toBe(experimental.kvm_vfio_eeh_mapping);
    const names = new Set([...consts.map((c) => c.name), ...structs.map((s) => s.name)]);
    for (const [name, v] of Object.entries(experimental)) {
      if (typeof v === 'number' || isStruct(v)) expect(names.has(name), name).toBe(false);
    }
  });

  it('experimental ioctl encodes no size and is _IO like every VFIO ioctl', () => {
    expect(experimental.VFIO_DEVICE_SET_ADDR_MAPPING >>> _IOC_SIZESHIFT).toBe(0);
    expect(toPowerpc(experimental.VFIO_DEVICE_SET_ADDR_MAPPING)).toBe(0x20003b7f);
  });
});
