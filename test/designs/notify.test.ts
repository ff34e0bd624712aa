/**
 * `+notify` / `+notify-only` (PROPOSAL, not upstream): the host signals the
 * error eventfd of a frozen passed-through PE's devices, the VMM turns the
 * wake-up into a guest EEH event, the guest runs check_failure on the
 * device. `-only`: the guest's accessors trust the event and skip the
 * check on all-1s reads (no per-read query; reads before the event are
 * taken as data).
 */
import { describe, expect, it } from 'vitest';
import { compareDesigns, formatCompare } from '../../src/cli/compare.js';
import { EventFd } from '../../src/host/eventfd.js';
import type { Machine } from '../../src/machine/machine.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { CostModel } from '../../src/sim/costs.js';
import { runMachine, scenario } from '../machine/helpers.js';

/** nic0 passed to vm0, a sparse ID-read workload (1 ms), a DMA fault at 5 ms. */
function sparse(design: string, costs: Record<string, string> = {}) {
  return scenario({
    design,
    costs,
    guests: [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic0', driver: 'full' }] }] }],
    workloads: [{ kind: 'mmio-read', guest: 'vm0', device: 'nic0', interval: '1ms' }],
    faults: [{ kind: 'dma', target: 'nic0', at: '5ms' }],
    run_for: '5s',
  });
}

const firstT = (m: Machine, name: string, from = 0) =>
  m.sim.trace.records.find((r) => r.name === name && r.t >= from)?.t;

/** The eventfds a VMM holds, with their signal counts. */
function eventfds(m: Machine, guest: string): EventFd[] {
  const vmm = m.guest(guest)?.vmm;
  if (!vmm) return [];
  return vmm.proc
    .listFds()
    .map(({ fd }) => vmm.proc.file(fd))
    .filter((f): f is EventFd => f instanceof EventFd);
}

describe('d+notify: recovery starts from the notification', () => {
  const { m, r } = runMachine(sparse('d+notify'), true);
  const kernel = m.guest('vm0')?.kernel.kernel;
  const freeze = firstT(m, 'hw.pe.freeze') as number;
  const event = firstT(m, 'guest.eeh_event') as number;
  const isolate = firstT(m, 'guest.eeh.isolate') as number;

  it('the guest isolates the PE from the event, before any all-1s read', () => {
    expect(kernel?.detections[0]).toMatchObject({ via: 'event', dev: '0000:00:00.0' });
    expect(kernel?.eehEvents.handled).toBe(1);
    expect(event).toBeGreaterThan(freeze);
    expect(isolate).toBeGreaterThan(event);
    // No all-1s read ran eeh_check_failure between the freeze and the isolation.
    const early = m.sim.trace.records.filter(
      (x) => x.name === 'guest.eeh.check_failure' && x.t > freeze && x.t < isolate,
    );
    expect(early).toEqual([]);
    expect(r.devices.find((d) => d.device === 'nic0')?.status).toBe('recovered');
  });

  it('event latency = host interrupt + next_error + eventfd wake-up + KVM ioctl + injection, from the CostModel', () => {
    const c = new CostModel();
    const nextError = 2 * (c.ns('opal_call_null') + c.ns('phb_reg_read')); // NEXT_ERROR + FREEZE_SET
    const expected = 3 * c.ns('msi_delivery') + nextError + c.ns('syscall_ioctl');
    expect(event - freeze).toBe(expected);
    // Detection = the event + one state query (the check_failure it runs).
    expect(isolate - event).toBeGreaterThan(c.ns('exit_to_userspace'));
    expect(isolate - event).toBeLessThan(100_000);
  });

  it('follows the cost table: 3 x msi_delivery on the path', () => {
    const slow = runMachine(sparse('d+notify', { msi_delivery: '20us' }), true).m;
    const d = (x: Machine) =>
      (firstT(x, 'guest.eeh_event') as number) - (firstT(x, 'hw.pe.freeze') as number);
    expect(d(slow) - (event - freeze)).toBe(3 * 15_000);
  });

  it('under d the same freeze waits for the next all-1s read', () => {
    const d = runMachine(sparse('d'), true).m;
    const k = d.guest('vm0')?.kernel.kernel;
    expect(k?.detections[0]?.via).toBe('accessor');
    const lat = (firstT(d, 'guest.eeh.isolate') as number) - (firstT(d, 'hw.pe.freeze') as number);
    expect(lat).toBeGreaterThan(isolate - freeze);
  });
});

describe('the eventfd reaches only the VMM that owns the device', () => {
  const { m } = runMachine(
    scenario({
      design: 'd+notify',
      guests: [
        { name: 'vm0', phbs: [{ devices: [{ device: 'nic0', driver: 'full' }] }] },
        { name: 'vm1', phbs: [{ devices: [{ device: 'nic1', driver: 'full' }] }] },
      ],
      faults: [{ kind: 'dma', target: 'nic0', at: '2ms' }],
      run_for: '10ms',
    }),
  );

  it('vm0 is signalled and gets the event; vm1 never sees one', () => {
    expect(eventfds(m, 'vm0').map((e) => e.signals)).toEqual([1]);
    expect(eventfds(m, 'vm1').map((e) => e.signals)).toEqual([0]);
    expect(m.guest('vm0')?.vm.eehEvents).toEqual({ injected: 1, delivered: 1 });
    expect(m.guest('vm1')?.vm.eehEvents).toEqual({ injected: 0, delivered: 0 });
    expect(m.guest('vm1')?.kernel.kernel.eehEvents.handled).toBe(0);
  });
});

describe('d+notify-only: the guest trusts the notification', () => {
  const linkDown = (design: string) =>
    runMachine(
      scenario({
        design,
        guests: [{ name: 'vm0', phbs: [{ devices: [{ device: 'nic1', driver: 'full' }] }] }],
        workloads: [
          { kind: 'link-status', guest: 'vm0', device: 'nic1', interval: '100us', ops: 200 },
        ],
        faults: [{ kind: 'link-down', target: 'nic1', at: '1ms' }],
        run_for: '50ms',
      }),
    ).r;

  it('link-status all-1s reads cost no state query (the false positives disappear)', () => {
    const polled = linkDown('d+notify');
    const trusted = linkDown('d+notify-only');
    expect(polled.details.guests[0]?.stateQuery.calls).toBeGreaterThan(150);
    const nic1 = (x: typeof polled) => x.devices.find((d) => d.device === 'nic1');
    expect(nic1(polled)?.falsePositives).toBeGreaterThan(150);
    expect(trusted.details.guests[0]?.stateQuery.calls).toBe(0);
    expect(nic1(trusted)?.falsePositives).toBe(0);
    expect(nic1(trusted)?.checks).toBe(0);
  });

  it('but reads between the freeze and the event are silent reads (notify.yaml)', () => {
    const s = loadScenario('notify').scenario;
    const only = runMachine({ ...s, design: 'd+notify-only' }).r;
    const polled = runMachine(s).r;
    const nic0 = (x: typeof only) => x.devices.find((d) => d.device === 'nic0');
    expect(nic0(only)?.integrity.silentReads).toBeGreaterThan(0);
    expect(nic0(only)?.status).toBe('recovered');
    expect(nic0(polled)?.integrity.silentReads).toBe(0);
  });
});

describe('without +notify nothing changes', () => {
  it.each(['d', 'a'])(
    '%s: no eventfd, no host notification, accessors check every all-1s read',
    (design) => {
      const { m } = runMachine(sparse(design), true);
      expect(eventfds(m, 'vm0')).toEqual([]);
      expect(m.sim.trace.records.some((x) => x.name === 'host.pnv.notify_passed')).toBe(false);
      expect(m.guest('vm0')?.kernel.kernel.accessors.checkOnAllOnes).toBe(true);
      expect(m.guest('vm0')?.vm.eehEvents.injected).toBe(0);
    },
  );
});

describe('eehsim compare notify', () => {
  const s = loadScenario('notify').scenario;
  const rows = compareDesigns(s, ['d', 'd+notify', 'd+notify-only', 'a', 'a+notify']);
  const row = (d: string) => rows.find((x) => x.design === d);

  it('prints the trade-off: per-read saving vs silent reads, and the detection latency', () => {
    expect(row('d+notify-only')?.stateQueries).toBeLessThan((row('d')?.stateQueries ?? 0) / 10);
    expect(row('d+notify-only')?.silentReads).toBeGreaterThan(0);
    for (const d of ['d', 'd+notify', 'a', 'a+notify']) expect(row(d)?.silentReads).toBe(0);
    expect(row('d+notify')?.detectNs).toBeLessThan(row('d')?.detectNs ?? 0);
    const text = formatCompare(s, rows);
    expect(text).toContain('detect');
    expect(text).toMatch(/^d\+notify-only /m);
  });
});
