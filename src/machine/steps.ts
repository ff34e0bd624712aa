/**
 * The scenario's raw steps, issued the way the real actor would:
 *
 * - `rtas`: a guest's RTAS call without its kernel - `struct rtas_args`
 *   (big-endian, PAPR layout) written into the guest's RAM and the H_RTAS
 *   hypercall made from a process owned by that VM, exactly what the guest
 *   kernel's rtas_call() does; the results are read back from the buffer.
 * - `vfio`: an ioctl from the guest's VMM process on its own container,
 *   group or device fd, with the argument encoded as bytes.
 * - `knob`: a host debug knob through the host's debugfs / sysfs API.
 */
import type { HostKernel } from '../host/host_kernel.js';
import type { Vm } from '../kvm/vm.js';
import type { StepOutcome } from '../scenario/result.js';
import type { Step } from '../scenario/schema/steps.js';
import { eehOpOf, rtasCallOf, vfioRequestOf } from '../scenario/to_machine.js';
import type { Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { H_RTAS } from '../uapi/hcall.js';
import {
  buidHi,
  buidLo,
  RTAS_ARGS_KVM_SIZE,
  rtasBufferSize,
  rtasRetsOffset,
  writeRtasCall,
} from '../uapi/rtas.js';
import {
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_EEH_PE_OP,
  VFIO_GROUP_GET_STATUS,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO,
  vfio_device_info,
  vfio_eeh_pe_op,
  vfio_group_status,
  vfio_iommu_spapr_tce_info,
  vfio_irq_info,
  vfio_region_info,
} from '../uapi/vfio.js';
import type { PassthroughDevice, SpaprPhb } from '../vmm/spapr_pci.js';
import type { Vmm } from '../vmm/vmm.js';
import './trace_events.js';

/** A host device passed through to a guest, as that guest sees it. */
export interface Passthrough {
  /** Scenario reference of the host device (name, else address). */
  readonly ref: string;
  readonly guest: string;
  readonly vmm: Vmm;
  readonly vm: Vm;
  readonly phb: SpaprPhb;
  readonly dev: PassthroughDevice;
  /** `DDDD:BB:DD.F` inside the guest. */
  readonly guestAddress: string;
  /** `DDDD:BB:DD.F` on the host. */
  readonly hostAddress: string;
}

/** What the steps need of the assembled machine. */
export interface StepMachine {
  readonly sim: Sim;
  readonly host: HostKernel;
  guestVm(name: string): { vmm: Vmm; vm: Vm } | undefined;
  /** The passthrough functions of a scenario device reference in a guest (first function first). */
  passthrough(guest: string, ref: string): Passthrough | undefined;
  /** The host PCI address a scenario device reference names (function 0 of a named device). */
  hostAddress(ref: string): string;
}

export class StepError extends Error {
  constructor(
    /** Path below the step, e.g. `args[1]`. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const RTAS_ARG_RE = /^(config_addr|buid_hi|buid_lo|pe_addr)\(([\w.:-]+)\)$/;

/** An RTAS argument word: a number or `buid_hi(nic0)` & co, as the guest sees the device. */
export function rtasArgWord(
  m: StepMachine,
  guest: string,
  arg: number | string,
  i: number,
): number {
  if (typeof arg === 'number') return arg >>> 0;
  const match = RTAS_ARG_RE.exec(arg);
  if (!match) throw new StepError(`args[${i}]`, `'${arg}' is not an RTAS argument`);
  const [, fn, ref] = match as unknown as [string, string, string];
  const p = m.passthrough(guest, ref);
  if (!p) {
    throw new StepError(`args[${i}]`, `${arg}: device '${ref}' is not passed through to ${guest}`);
  }
  switch (fn) {
    case 'config_addr':
      return p.dev.configAddr;
    case 'buid_hi':
      return buidHi(p.phb.buid);
    case 'buid_lo':
      return buidLo(p.phb.buid);
    default:
      // ibm,get-config-addr-info2's PE address as QEMU computes it: (bus << 16) + 1.
      return ((p.dev.bus << 16) + 1) >>> 0;
  }
}

/** The step's guest (its VMM and VM); a StepError when the machine has none of that name. */
function stepGuest(m: StepMachine, guest: string): { vmm: Vmm; vm: Vm } {
  const g = m.guestVm(guest);
  if (!g) throw new StepError('guest', `no guest ${guest}`);
  return g;
}

export function* rtasStep(
  m: StepMachine,
  step: Extract<Step, { kind: 'rtas' }>,
): Task<Omit<StepOutcome, 'index' | 'id'>> {
  const g = stepGuest(m, step.guest);
  const { vm } = g;
  const { token } = rtasCallOf(step.call);
  const args = step.args.map((a, i) => rtasArgWord(m, step.guest, a, i));
  const nargs = step.nargs ?? args.length;
  // Room for the declared counts and for the actual words.
  const size = Math.max(
    RTAS_ARGS_KVM_SIZE,
    rtasBufferSize(Math.max(nargs, args.length), step.nret),
  );
  // Its own buffer in guest RAM: steps at the same time do not share one
  // (the guest kernel's rtas_call() serializes on rtas_lock; raw steps don't).
  const at = vm.ram.alloc(size, 8);
  const buf = new Uint8Array(size);
  writeRtasCall(buf, 0, { token, args, nret: step.nret });
  const view = new DataView(buf.buffer);
  view.setUint32(4, nargs); // a declared nargs other than the words given (tests the checks)
  // The result words start after the declared inputs (that is where the VMM writes them).
  for (let i = 0; i < step.nret; i++) view.setUint32(rtasRetsOffset(nargs) + 4 * i, 0);
  vm.ram.write(at, buf);
  const r3 = yield* vm.hcall(H_RTAS, [BigInt(at)]);
  const out = new Uint8Array(size);
  vm.ram.read(at, out);
  const o = new DataView(out.buffer);
  const rets: number[] = [];
  for (let i = 0; i < step.nret; i++) rets.push(o.getInt32(rtasRetsOffset(nargs) + 4 * i));
  const [status, ...outputs] = rets;
  // nret 0: no status word; the hypercall's return stands for it.
  return { rc: status ?? Number(BigInt.asIntN(32, r3)), rets: outputs };
}

/** A struct codec seen as `argsz`-first bytes (the fields a step sets are u32). */
interface ArgStruct {
  readonly size: number;
  encode(value: Record<string, number>): ArrayBuffer;
}
const arg = (s: { readonly size: number }): ArgStruct => s as unknown as ArgStruct;

/** Struct arguments of the VFIO requests a step may encode without raw `data`. */
const VFIO_STRUCTS: ReadonlyMap<number, ArgStruct> = new Map([
  [VFIO_EEH_PE_OP, arg(vfio_eeh_pe_op)],
  [VFIO_GROUP_GET_STATUS, arg(vfio_group_status)],
  [VFIO_DEVICE_GET_INFO, arg(vfio_device_info)],
  [VFIO_DEVICE_GET_REGION_INFO, arg(vfio_region_info)],
  [VFIO_DEVICE_GET_IRQ_INFO, arg(vfio_irq_info)],
  [VFIO_IOMMU_SPAPR_TCE_GET_INFO, arg(vfio_iommu_spapr_tce_info)],
]);

function hexBytes(hex: string): ArrayBuffer {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out.buffer;
}

/**
 * The ioctl argument of a VFIO step: raw `data`; else the request's struct
 * with `argsz` (default: the struct's size), `flags` and, for
 * VFIO_EEH_PE_OP, `op` (region / irq info: `op` is the index); requests
 * whose argument is an integer (CHECK_EXTENSION, SET_IOMMU...) take `op`
 * as that integer (default 0).
 */
export function vfioArg(step: Extract<Step, { kind: 'vfio' }>): ArrayBuffer | number {
  if (step.data !== undefined) return hexBytes(step.data);
  const request = vfioRequestOf(step.request);
  const op = step.op === undefined ? 0 : eehOpOf(step.op);
  const st = VFIO_STRUCTS.get(request);
  if (!st) return op;
  const value: Record<string, number> = { argsz: step.argsz ?? st.size, flags: step.flags ?? 0 };
  if (request === VFIO_EEH_PE_OP) value.op = op;
  if (request === VFIO_DEVICE_GET_REGION_INFO || request === VFIO_DEVICE_GET_IRQ_INFO)
    value.index = op;
  return st.encode(value);
}

export function* vfioStep(
  m: StepMachine,
  step: Extract<Step, { kind: 'vfio' }>,
): Task<Omit<StepOutcome, 'index' | 'id'>> {
  const g = stepGuest(m, step.guest);
  const { vmm } = g;
  let fd: number | undefined;
  if (step.device !== undefined) {
    const p = m.passthrough(step.guest, step.device);
    if (!p) {
      throw new StepError(
        'device',
        `device '${step.device}' is not passed through to ${step.guest}`,
      );
    }
    fd =
      step.fd === 'container' ? p.phb.containerFd : step.fd === 'group' ? p.phb.groupFd : p.dev.fd;
  } else {
    fd = vmm.phbs.find((p) => p.containerFd !== undefined)?.containerFd;
  }
  if (fd === undefined) throw new StepError('fd', `${step.guest} has no ${step.fd} fd`);
  const rc = yield* m.host.syscalls.ioctl(vmm.proc, fd, vfioRequestOf(step.request), vfioArg(step));
  return { rc };
}

export function* knobStep(
  m: StepMachine,
  step: Extract<Step, { kind: 'knob' }>,
): Task<Omit<StepOutcome, 'index' | 'id'>> {
  const dbg = m.host.debugfs;
  const addr = (): string => m.hostAddress(step.device as string);
  switch (step.knob) {
    case 'eeh_dev_break':
      return { rc: yield* dbg.devBreak(addr()) };
    case 'eeh_dev_check':
      return { rc: yield* dbg.devCheck(addr()) };
    case 'eeh_max_freezes':
      return { rc: dbg.setMaxFreezes(step.value as number) };
    case 'eeh_pe_state': {
      const r = yield* dbg.sysfsPeState(addr());
      if (typeof r === 'number') return { rc: r };
      // `0x<platform state> 0x<pe->state>`
      return {
        rc: 0,
        rets: r
          .trim()
          .split(/\s+/)
          .map((w) => Number.parseInt(w, 16) | 0),
      };
    }
    default: {
      const never: never = step.knob;
      throw new StepError('knob', `unknown knob ${String(never)}`);
    }
  }
}

/** A short description of a step for the trace and the summary. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'rtas':
      return `${step.guest} RTAS ${rtasCallOf(step.call).name ?? `token ${step.call}`}`;
    case 'vfio':
      return `${step.guest} VMM ioctl ${typeof step.request === 'number' ? `0x${step.request.toString(16)}` : step.request}${step.op !== undefined ? ` ${step.op}` : ''} on its ${step.fd} fd`;
    case 'knob':
      return `host ${step.knob} ${step.device ?? step.value ?? ''}`.trimEnd();
  }
}
