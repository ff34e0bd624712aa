/**
 * The guest kernel's RTAS entry (cf. arch/powerpc/kernel/rtas.c rtas_call(),
 * va_rtas_call_unlocked(), rtas_busy_delay(), rtas_function_token()).
 *
 * A pseries guest calls RTAS by filling the global `struct rtas_args` (in
 * its own memory, big-endian words), and entering the RTAS blob, which under
 * KVM is QEMU's tiny stub that issues the hypercall H_RTAS with the buffer's
 * guest-physical address in r4. The results come back in the same buffer:
 * rets[0] is the status, rets[1..] the outputs. Tokens come from the
 * device tree's /rtas node; a service the tree does not name is
 * RTAS_UNKNOWN_SERVICE and rtas_call() returns -1 without calling anything.
 */
import type { GuestPlatform } from '../kvm/guest_platform.js';
import { SleepLock } from '../sim/lock.js';
import { sleep, type Task } from '../sim/scheduler.js';
import type { Sim } from '../sim/sim.js';
import { ms, us } from '../sim/time.js';
import { H_RTAS, H_SUCCESS } from '../uapi/hcall.js';
import type { Gpa } from '../uapi/ids.js';
import {
  RTAS_ARGS_KVM_SIZE,
  RTAS_ARGS_MAX,
  RTAS_EXTENDED_DELAY_MAX,
  RTAS_EXTENDED_DELAY_MIN,
  RTAS_OUT_BUSY,
  readRtasCall,
  rtasRetsOffset,
  writeRtasCall,
} from '../uapi/rtas.js';
import './trace_events.js';

/** asm/rtas.h: rtas_token() of a service the firmware does not provide. */
export const RTAS_UNKNOWN_SERVICE = -1;
/** asm/rtas.h RTAS_ERROR_LOG_MAX: the largest error log RTAS may return. */
export const RTAS_ERROR_LOG_MAX = 2048;
/** Offset of the kernel-only `rets` pointer in struct rtas_args (ppc64). */
const RTAS_ARGS_RETS_PTR = 80;
/** PAGE_OFFSET of a ppc64 kernel: where the linear map of guest RAM starts. */
const PAGE_OFFSET = 0xc000_0000_0000_0000n;

export interface RtasResult {
  /** rets[0] as a signed 32-bit status (0 when nret is 0), as rtas_call() returns it. */
  readonly status: number;
  /** The outputs rets[1 .. nret-1], unsigned 32-bit words (rtas_call()'s `outputs`). */
  readonly outputs: readonly number[];
}

/** Counters per RTAS service (for reports and the cost of a guest state query). */
export interface RtasCallStats {
  calls: number;
  /** Virtual time spent inside rtas_call(), lock wait included. */
  ns: number;
}

/**
 * rtas_busy_delay_time(): the delay, in ms, a busy (-2: 1 ms) or extended
 * delay status (990x: 10^x ms) asks for; 0 for any other status.
 */
export function rtasBusyDelayTime(status: number): number {
  if (status === RTAS_OUT_BUSY) return 1;
  if (status >= RTAS_EXTENDED_DELAY_MIN && status <= RTAS_EXTENDED_DELAY_MAX) {
    return 10 ** (status - RTAS_EXTENDED_DELAY_MIN);
  }
  return 0;
}

/**
 * rtas_busy_delay(): sleeps as a busy or extended-delay status asks and
 * returns true (call again), or returns false at once for any other status.
 * Extended delays are clamped to 1..1000 ms.
 */
export function* rtasBusyDelay(status: number): Task<boolean> {
  if (status >= RTAS_EXTENDED_DELAY_MIN && status <= RTAS_EXTENDED_DELAY_MAX) {
    const m = Math.min(Math.max(rtasBusyDelayTime(status), 1), 1000);
    // MODEL: for hints up to 20 ms Linux uses usleep_range(ms * 100, ms * 1000);
    // we wake at the upper bound, i.e. exactly the hinted time.
    yield* sleep(ms(m));
    return true;
  }
  if (status === RTAS_OUT_BUSY) {
    // MODEL: cond_resched() takes no fixed time; 1 us lets other processes run
    // and keeps a retry loop moving in virtual time.
    yield* sleep(us(1));
    return true;
  }
  return false;
}

/** The guest's RTAS: tokens from the device tree, one argument buffer, one lock. */
export class GuestRtas {
  private tokensCache: Readonly<Record<string, number>> | undefined;
  private readonly names = new Map<number, string>();
  private args: Gpa | undefined;
  /** rtas_lock: one RTAS call at a time, for the single argument buffer. */
  readonly lock = new SleepLock();
  readonly stats = new Map<string, RtasCallStats>();
  /** Hypercalls that returned something else than H_SUCCESS in r3 (the blob ignores r3). */
  hcallFailures = 0;

  /** Reads nothing yet: the device tree and guest RAM are touched at first use (boot). */
  constructor(
    readonly sim: Sim,
    readonly platform: GuestPlatform,
  ) {}

  /** The /rtas node's tokens (read from the device tree once). */
  private get tokens(): Readonly<Record<string, number>> {
    if (!this.tokensCache) {
      this.tokensCache = this.platform.deviceTree().rtasTokens;
      for (const [name, tok] of Object.entries(this.tokensCache)) this.names.set(tok, name);
    }
    return this.tokensCache;
  }

  /** Guest-physical address of the global struct rtas_args (allocated once, at first use). */
  get argsGpa(): Gpa {
    // MODEL: Linux's rtas_args is a static in the kernel image (below the RMO
    // limit); here the guest's page allocator hands out an 8-byte aligned block.
    this.args ??= this.platform.ram.alloc(RTAS_ARGS_KVM_SIZE, 8);
    return this.args;
  }

  /** rtas_function_token() / rtas_token(): the token or RTAS_UNKNOWN_SERVICE. */
  token(name: string): number {
    const t = this.tokens[name];
    return t === undefined ? RTAS_UNKNOWN_SERVICE : t;
  }

  has(name: string): boolean {
    return this.token(name) !== RTAS_UNKNOWN_SERVICE;
  }

  nameOf(token: number): string {
    if (!this.tokensCache) this.token('');
    return this.names.get(token) ?? `token-${token}`;
  }

  /** Number of rtas_call()s of a service so far. */
  calls(name: string): number {
    return this.stats.get(name)?.calls ?? 0;
  }

  /**
   * rtas_call(token, nargs, nret, outputs, args...): -1 for an unknown
   * service, otherwise rets[0] of the buffer as the status, and rets[1..].
   * Input words may be given signed or unsigned.
   */
  *call(token: number, nret: number, args: readonly number[]): Task<RtasResult> {
    const nargs = args.length;
    if (token === RTAS_UNKNOWN_SERVICE) return { status: -1, outputs: [] };
    // va_rtas_call_unlocked() warns and refuses counts that overflow args[16].
    if (nret < 0 || nargs >= RTAS_ARGS_MAX || nargs + nret > RTAS_ARGS_MAX) {
      throw new RangeError(`rtas_call: nargs ${nargs} / nret ${nret} do not fit rtas_args`);
    }
    const name = this.nameOf(token);
    const at = this.argsGpa;
    const t0 = this.sim.now;
    yield* this.lock.lock();
    const span = this.sim.trace.begin('guest.rtas', { call: name, token, nargs, nret });
    let result: RtasResult;
    try {
      yield* this.sim.charge('guest_rtas_entry');
      const buf = new Uint8Array(RTAS_ARGS_KVM_SIZE);
      writeRtasCall(buf, 0, { token, args: args.map((a) => a >>> 0), nret });
      // args->rets = &args->args[nargs] (a kernel virtual address; only the guest reads it).
      new DataView(buf.buffer).setBigUint64(
        RTAS_ARGS_RETS_PTR,
        PAGE_OFFSET + BigInt(at + rtasRetsOffset(nargs)),
      );
      this.platform.ram.write(at, buf);
      const r3 = yield* this.platform.hcall(H_RTAS, [BigInt(at)]);
      // MODEL: QEMU's RTAS blob (`sc 1; blr`) does not look at r3 and neither
      // does enter_rtas(): the status is whatever rets[0] holds afterwards.
      if (r3 !== BigInt(H_SUCCESS)) this.hcallFailures++;
      this.platform.ram.read(at, buf);
      const dec = readRtasCall(buf, 0);
      if (!dec.ok) throw new Error(`rtas_call: unreadable argument buffer (${dec.error})`);
      const rets = dec.value.rets;
      const status = nret > 0 ? (rets[0] as number) | 0 : 0;
      // MODEL: on status -1 Linux also fetches "rtas-last-error" when the
      // firmware has it (QEMU does not); not modelled.
      result = { status, outputs: rets.slice(1) };
      this.sim.trace.end(span, { status, r3: Number(r3) });
    } finally {
      this.lock.unlock(this.sim);
    }
    const st = this.stats.get(name);
    if (st) {
      st.calls++;
      st.ns += this.sim.now - t0;
    } else {
      this.stats.set(name, { calls: 1, ns: this.sim.now - t0 });
    }
    return result;
  }

  /** rtas_call() by service name (RTAS_UNKNOWN_SERVICE when the tree lacks it). */
  *callByName(name: string, nret: number, args: readonly number[]): Task<RtasResult> {
    return yield* this.call(this.token(name), nret, args);
  }
}
