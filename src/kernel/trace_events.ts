/**
 * Trace events of the generic EEH core. The same code runs in the host
 * kernel and in each guest kernel, so every event exists twice: `host.eeh.*`
 * and `guest.eeh.*` (the owner field of the record names the VM).
 */
export interface KernelEehEvents {
  'eeh.check_failure': { dev: string; pe: string; rc: number; why: string };
  'eeh.isolate': { pe: string; cause: string };
  'eeh.event': { pe: string };
  'eeh.recovery': { pe: string; freeze_count: number };
  'eeh.report': { phase: string; dev: string; result: string };
  'eeh.reset': { pe: string; option: number };
  'eeh.set_option': { pe: string; option: number; rc: number };
  'eeh.freeze_limit': { pe: string; count: number; max: number };
  'eeh.perm_failure': { pe: string };
  'eeh.owner': { pe: string; dev: string; op: string; pass_dev_cnt: number };
  'eeh.hotplug': { pe: string; op: string; devices: number };
}

type Prefixed<P extends string, E> = { [K in keyof E & string as `${P}.${K}`]: E[K] };
type HostEeh = Prefixed<'host', KernelEehEvents>;
type GuestEeh = Prefixed<'guest', KernelEehEvents>;

declare module '../sim/trace.js' {
  interface TraceEvents extends HostEeh, GuestEeh {}
}
