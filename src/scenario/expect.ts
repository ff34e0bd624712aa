/**
 * Evaluation of a scenario's `expect` section against a run's result. Each
 * expectation yields a named verdict with the reason when it fails.
 */
import { formatNs } from '../sim/time.js';
import { type DeviceOutcome, type RunResult, totalIntegrity } from './result.js';
import { DeviceIndex, PE_STATES, type PeStateName, type Scenario } from './schema/index.js';

export interface Verdict {
  /** e.g. `recovered nic0`, `steps.state.rc`. */
  name: string;
  ok: boolean;
  /** What was found (always set; the reason when it failed). */
  detail: string;
}

const stateName = (v: unknown): string => {
  const e = Object.entries(PE_STATES).find(([, n]) => n === v);
  return e ? `${e[0]} (${String(v)})` : String(v);
};

export function checkExpectations(s: Scenario, r: RunResult): Verdict[] {
  const index = new DeviceIndex(s.topology);
  /** Result devices are keyed by their ref: the name, else the address. */
  const keyOf = (ref: string): string => index.resolve(ref)?.ref ?? ref;
  const dev = (ref: string): DeviceOutcome | undefined => {
    const n = keyOf(ref);
    return r.devices.find((d) => d.device === n);
  };
  const out: Verdict[] = [];
  const e = s.expect;
  const statusIs = (
    label: string,
    refs: readonly string[],
    ok: (d: DeviceOutcome) => boolean,
  ): void => {
    for (const ref of refs) {
      const d = dev(ref);
      out.push({
        name: `${label} ${ref}`,
        ok: d !== undefined && ok(d),
        detail: d ? `${d.status}${d.cause ? ` (${d.cause})` : ''}` : 'not in the result',
      });
    }
  };
  if (e.recovered !== undefined) {
    const refs =
      e.recovered === 'all'
        ? r.devices.filter((d) => d.status !== 'unaffected').map((d) => d.device)
        : e.recovered;
    if (e.recovered === 'all' && refs.length === 0) {
      out.push({ name: 'recovered all', ok: false, detail: 'no device was faulted' });
    }
    statusIs('recovered', refs, (d) => d.status === 'recovered');
  }
  if (e.failed)
    statusIs('failed', e.failed, (d) => d.status === 'failed' || d.status === 'disabled');
  if (e.unaffected) statusIs('unaffected', e.unaffected, (d) => d.status === 'unaffected');
  const total = totalIntegrity(r.devices);
  if (e.max_silent_reads !== undefined) {
    out.push({
      name: `max_silent_reads ${e.max_silent_reads}`,
      ok: total.silentReads <= e.max_silent_reads,
      detail: `${total.silentReads} silent reads`,
    });
  }
  if (e.max_lost_ios !== undefined) {
    out.push({
      name: `max_lost_ios ${e.max_lost_ios}`,
      ok: total.lostIos <= e.max_lost_ios,
      detail: `${total.lostIos} lost I/Os`,
    });
  }
  if (e.max_recovery_time !== undefined) {
    const max = Math.max(0, ...r.devices.map((d) => d.recoveryNs ?? 0));
    out.push({
      name: `max_recovery_time ${formatNs(e.max_recovery_time)}`,
      ok: max <= e.max_recovery_time,
      detail: `slowest recovery ${formatNs(max)}`,
    });
  }
  for (const [ref, n] of Object.entries(e.freezes ?? {})) {
    const d = dev(ref);
    out.push({
      name: `freezes ${ref} = ${n}`,
      ok: d?.freezes === n,
      detail: d ? `${d.freezes} freezes` : 'not in the result',
    });
  }
  for (const [ref, want] of Object.entries(e.pe_state ?? {})) {
    const got = r.peStates[keyOf(ref)];
    const wantV =
      typeof want === 'string' && want !== 'disabled' ? PE_STATES[want as PeStateName] : want;
    out.push({
      name: `pe_state ${ref} = ${typeof want === 'string' ? want : stateName(want)}`,
      ok: got === wantV,
      detail: got === undefined ? 'no PE state in the result' : `state ${stateName(got)}`,
    });
  }
  for (const [id, want] of Object.entries(e.steps ?? {})) {
    const st = r.steps.find((x) => x.id === id);
    if (!st) {
      out.push({ name: `steps.${id}`, ok: false, detail: 'step did not run' });
      continue;
    }
    if (want.rc !== undefined) {
      out.push({
        name: `steps.${id}.rc = ${want.rc}`,
        ok: st.rc === want.rc,
        detail: `rc ${st.rc}`,
      });
    }
    if (want.rets !== undefined) {
      const got = st.rets ?? [];
      const ok = want.rets.every((v, i) => got[i] === v);
      out.push({
        name: `steps.${id}.rets = [${want.rets.join(', ')}]`,
        ok,
        detail: `rets [${got.join(', ')}]`,
      });
    }
  }
  return out;
}
