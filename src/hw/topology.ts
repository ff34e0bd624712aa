/**
 * Builds the I/O hardware from a plain, serialisable description (what a
 * scenario file holds): PHBs, the devices under each (a flat list by BDF, as
 * lspci shows them) and the PE grouping. Everything is validated; the first
 * problem throws a TopologyError naming the offending path
 * (`phbs[0].devices[1].bdf`).
 *
 * Bus numbers are the ones enumeration gives (skiboot / Linux): the root
 * bus is 0; devices are visited in devfn order; a switch takes the next
 * free bus for its internal bus (where its downstream ports sit, device =
 * port index) and then, port by port, the next free bus for each port's
 * secondary bus, depth first. A device below a port is listed with that
 * port's bus in its BDF.
 *
 * PE grouping: `peGrouping: 'device'` (default) puts all functions of a
 * device in one PE (a switch: its upstream and downstream ports);
 * `'bus'` puts all functions on one bus in one PE (as Linux's powernv code
 * does with bus PEs). A device's `pe` number, or a `pes` entry, overrides
 * this. A PE's parent is the PE of the bridge above its shallowest function.
 * Default PE numbers count up from 1.
 */
import type { Sim } from '../sim/sim.js';
import { type Bdf, bdfBus, bdfFn, formatBdf, parseBdf, phbId } from '../uapi/ids.js';
import type { PciBridge, PciFunction } from './device.js';
import {
  createDualFunction,
  createPcieSwitch,
  createTestNic,
  DEVICE_MODEL_NAMES,
  type DeviceModelName,
  isDeviceModel,
} from './devices/index.js';
import { formatPciAddress, Hardware } from './hardware.js';
import { HostMemory } from './memory.js';
import { MmioFastPath } from './mmio_fast_path.js';
import type { Pe, PeKind } from './pe.js';
import { Phb } from './phb.js';
import { isPhbModel, PHB_MODEL_NAMES } from './phb_models.js';

export interface TopologySpec {
  readonly phbs: readonly PhbSpec[];
  /** Explicit PEs by function address; may name functions of one PHB only. */
  readonly pes?: readonly PeSpec[];
  /** Host memory the allocator hands out (defaults: from 4 GiB, 64 GiB). */
  readonly memory?: { readonly base?: number; readonly size?: number };
}

export interface PhbSpec {
  /** OPAL PHB id; also the PCI domain number. */
  readonly id: number;
  /** `phb3` (POWER8: injects every error kind) or `phb4` (POWER9: config errors only). */
  readonly model: string;
  /** MMIO window (default: 256 MiB at 0x8000_0000 + 256 MiB * position), below 4 GiB. */
  readonly mmioWindow?: { readonly base: number; readonly size: number };
  /** Size of each PE's 32-bit DMA window in bytes (default 1 GiB). */
  readonly dmaWindowSize?: number;
  /** Automatic PE assignment (default `device`). */
  readonly peGrouping?: 'device' | 'bus';
  readonly devices: readonly DeviceSpec[];
}

export interface DeviceSpec {
  /** `testnic`, `dual_function` (alias `twofunc`) or `pcie_switch` (alias `switch`). */
  readonly model: string;
  /** `bb:dd.f` (hex). Function 0 for dual_function and pcie_switch. */
  readonly bdf: string;
  /** Optional name to find the device by (`Hardware.named`). */
  readonly name?: string;
  /** pcie_switch only: number of downstream ports (default 2). */
  readonly ports?: number;
  /** Explicit PE number for all functions of the device; equal numbers share a PE. */
  readonly pe?: number;
}

export interface PeSpec {
  /** PE number (default: the lowest free one from 1). */
  readonly number?: number;
  /**
   * PCI addresses `dddd:bb:dd.f` (domain = PHB id). The address a device is
   * listed at selects all its functions; any other address one function.
   */
  readonly devices: readonly string[];
}

export class TopologyError extends Error {
  override name = 'TopologyError';
  constructor(
    /** Where in the spec the problem is, e.g. `phbs[0].devices[2].bdf`. */
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

export const DEVICE_MODEL_ALIASES: Readonly<Record<string, DeviceModelName>> = {
  twofunc: 'dual_function',
  switch: 'pcie_switch',
};
export const DEFAULT_WINDOW_BASE = 0x8000_0000;
export const DEFAULT_WINDOW_SIZE = 0x1000_0000;
export const DEFAULT_DMA_WINDOW = 0x4000_0000;
export const DEFAULT_SWITCH_PORTS = 2;
const MIB = 0x10_0000;

/** One device as placed. */
interface Placed {
  readonly path: string;
  readonly spec: DeviceSpec;
  readonly functions: readonly PciFunction[];
}

interface PeDraft {
  number: number | undefined;
  readonly kind: Exclude<PeKind, 'reserved'>;
  readonly functions: PciFunction[];
  readonly path: string;
}

interface PhbBuild {
  readonly phb: Phb;
  readonly spec: PhbSpec;
  readonly path: string;
  readonly placed: readonly Placed[];
}

/** Validates `spec` and builds the hardware it describes. */
export function buildHardware(sim: Sim, spec: TopologySpec): Hardware {
  if (!Array.isArray(spec?.phbs) || spec.phbs.length === 0) {
    throw new TopologyError('phbs', 'at least one PHB is needed');
  }
  const memory = new HostMemory(spec.memory);
  const names = new Map<string, readonly PciFunction[]>();
  const builds: PhbBuild[] = [];
  const windows: { base: number; size: number; path: string }[] = [];
  const fast = new MmioFastPath();
  spec.phbs.forEach((ps, i) => {
    const path = `phbs[${i}]`;
    if (!Number.isInteger(ps.id) || ps.id < 0 || ps.id > 0xffff) {
      throw new TopologyError(`${path}.id`, `PHB id must be an integer 0..65535, not ${ps.id}`);
    }
    const dup = builds.find((b) => b.phb.id === ps.id);
    if (dup) throw new TopologyError(`${path}.id`, `duplicate PHB id ${ps.id} (also ${dup.path})`);
    if (!isPhbModel(ps.model)) {
      throw new TopologyError(
        `${path}.model`,
        `unknown PHB model '${ps.model}' (known: ${PHB_MODEL_NAMES.join(', ')})`,
      );
    }
    const dma = ps.dmaWindowSize ?? DEFAULT_DMA_WINDOW;
    if (!Number.isSafeInteger(dma) || dma <= 0 || dma % 4096 !== 0) {
      throw new TopologyError(`${path}.dmaWindowSize`, 'must be a positive multiple of 4 KiB');
    }
    if (ps.peGrouping !== undefined && ps.peGrouping !== 'device' && ps.peGrouping !== 'bus') {
      throw new TopologyError(`${path}.peGrouping`, `must be 'device' or 'bus'`);
    }
    if (!Array.isArray(ps.devices)) throw new TopologyError(`${path}.devices`, 'must be a list');
    const window = checkWindow(ps, i, path, windows);
    const phb = new Phb({ sim }, phbId(ps.id), ps.model, window, memory, fast);
    const placed = new BusWalker(phb, ps.devices, `${path}.devices`, names).run();
    builds.push({ phb, spec: ps, path, placed });
  });
  assignPes(spec.pes ?? [], builds);
  return new Hardware(
    sim,
    memory,
    builds.map((b) => b.phb),
    names,
  );
}

function checkWindow(
  ps: PhbSpec,
  index: number,
  path: string,
  taken: { base: number; size: number; path: string }[],
): { base: number; size: number } {
  const wpath = `${path}.mmioWindow`;
  let w = ps.mmioWindow;
  if (w === undefined) {
    const base = DEFAULT_WINDOW_BASE + index * DEFAULT_WINDOW_SIZE;
    if (base + DEFAULT_WINDOW_SIZE > 2 ** 32) {
      throw new TopologyError(wpath, 'no default window below 4 GiB is left; give one');
    }
    w = { base, size: DEFAULT_WINDOW_SIZE };
  }
  const { base, size } = w;
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || base % MIB || size % MIB) {
    throw new TopologyError(wpath, 'base and size must be multiples of 1 MiB');
  }
  if (size <= 0 || base + size > 2 ** 32) {
    throw new TopologyError(wpath, 'must be non-empty and below 4 GiB (32-bit BARs and windows)');
  }
  const clash = taken.find((t) => base < t.base + t.size && t.base < base + size);
  if (clash) throw new TopologyError(wpath, `overlaps the window of ${clash.path}`);
  taken.push({ base, size, path });
  return { base, size };
}

/** Places the devices of one PHB bus by bus, numbering buses as enumeration does. */
class BusWalker {
  private nextBus = 1;
  private readonly byBus = new Map<number, { spec: DeviceSpec; path: string; at: Bdf }[]>();
  private readonly placed: Placed[] = [];
  /** Bus -> what it is, for messages. */
  private readonly buses = new Map<number, string>([[0, 'the root bus']]);

  constructor(
    private readonly phb: Phb,
    private readonly specs: readonly DeviceSpec[],
    private readonly path: string,
    private readonly names: Map<string, readonly PciFunction[]>,
  ) {}

  run(): Placed[] {
    const seen = new Map<number, string>();
    this.specs.forEach((d, i) => {
      const path = `${this.path}[${i}]`;
      const model = canonicalModel(d?.model);
      if (!model) {
        throw new TopologyError(
          `${path}.model`,
          `unknown device model '${d?.model}' (known: ${DEVICE_MODEL_NAMES.join(', ')})`,
        );
      }
      const at = typeof d.bdf === 'string' ? parseBdf(d.bdf) : undefined;
      if (at === undefined)
        throw new TopologyError(`${path}.bdf`, `'${d.bdf}' is not a BDF like 01:00.0`);
      if ((model === 'dual_function' || model === 'pcie_switch') && bdfFn(at) !== 0) {
        throw new TopologyError(`${path}.bdf`, `a ${model} must be at function 0`);
      }
      if (d.ports !== undefined && model !== 'pcie_switch') {
        throw new TopologyError(`${path}.ports`, `only a pcie_switch has ports, not a ${model}`);
      }
      const fns = model === 'dual_function' ? [at, (at + 1) as Bdf] : [at];
      for (const f of fns) {
        const other = seen.get(f);
        if (other)
          throw new TopologyError(`${path}.bdf`, `duplicate BDF ${formatBdf(f)} (also ${other})`);
        seen.set(f, path);
      }
      const list = this.byBus.get(bdfBus(at)) ?? [];
      list.push({ spec: d, path, at });
      this.byBus.set(bdfBus(at), list);
    });
    this.placeBus(0, undefined);
    for (const [bus, list] of this.byBus) {
      const d = list[0];
      if (!d) continue;
      const known = [...this.buses].map(([b, what]) => `${hex2(b)} (${what})`).join(', ');
      throw new TopologyError(
        `${d.path}.bdf`,
        `bus ${hex2(bus)} is behind no downstream port; buses here: ${known}`,
      );
    }
    return this.placed;
  }

  private placeBus(bus: number, parent: PciBridge | undefined): void {
    const list = (this.byBus.get(bus) ?? []).sort((a, b) => (a.at & 0xff) - (b.at & 0xff));
    this.byBus.delete(bus);
    for (const { spec, path, at } of list) this.placeDevice(spec, path, at, bus, parent);
  }

  private placeDevice(d: DeviceSpec, path: string, at: Bdf, bus: number, parent?: PciBridge) {
    const ctx = { sim: this.phb.ctx.sim };
    const model = canonicalModel(d.model) as DeviceModelName;
    if (model !== 'pcie_switch') {
      const fns = model === 'testnic' ? [createTestNic(ctx, at)] : createDualFunction(ctx, at);
      for (const f of fns) this.phb.attach(f, parent);
      this.record(d, path, fns);
      return;
    }
    const ports = d.ports ?? DEFAULT_SWITCH_PORTS;
    if (!Number.isInteger(ports) || ports < 1 || ports > 32) {
      throw new TopologyError(`${path}.ports`, 'a pcie_switch has 1..32 downstream ports');
    }
    const internal = this.allocBus(path, `internal bus of switch ${formatBdf(at)}`);
    const first = this.byBus.get(internal)?.[0];
    if (first) {
      throw new TopologyError(
        `${first.path}.bdf`,
        `bus ${hex2(internal)} is the internal bus of switch ${formatBdf(at)} (its ports only)`,
      );
    }
    const sw = createPcieSwitch(ctx, at, internal, ports);
    this.phb.attach(sw.upstream, parent);
    for (const p of sw.downstream) this.phb.attach(p, sw.upstream);
    this.record(d, path, [sw.upstream, ...sw.downstream]);
    for (const port of sw.downstream) {
      const secondary = this.allocBus(path, `below port ${formatBdf(port.bdf)}`);
      this.placeBus(secondary, port);
      port.plan = { primary: internal, secondary, subordinate: this.nextBus - 1 };
    }
    sw.upstream.plan = { primary: bus, secondary: internal, subordinate: this.nextBus - 1 };
  }

  private record(d: DeviceSpec, path: string, functions: readonly PciFunction[]): void {
    if (d.name !== undefined) {
      if (this.names.has(d.name)) {
        throw new TopologyError(`${path}.name`, `duplicate name '${d.name}'`);
      }
      this.names.set(d.name, functions);
    }
    this.placed.push({ path, spec: d, functions });
  }

  private allocBus(path: string, what: string): number {
    if (this.nextBus > 0xff) throw new TopologyError(path, 'more than 255 buses below one PHB');
    this.buses.set(this.nextBus, what);
    return this.nextBus++;
  }
}

function canonicalModel(m: unknown): DeviceModelName | undefined {
  if (typeof m !== 'string') return undefined;
  const c = DEVICE_MODEL_ALIASES[m] ?? m;
  return isDeviceModel(c) ? c : undefined;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Explicit PEs (device `pe` numbers, `pes` entries), then automatic ones, then the PE tree. */
function assignPes(pes: readonly PeSpec[], builds: readonly PhbBuild[]): void {
  const drafts = new Map<Phb, PeDraft[]>(builds.map((b) => [b.phb, []]));
  const owner = new Map<PciFunction, PeDraft>();
  const join = (draft: PeDraft, fn: PciFunction, path: string, what: string): void => {
    const prev = owner.get(fn);
    if (prev && prev !== draft) throw new TopologyError(path, `${what} is already in ${prev.path}`);
    owner.set(fn, draft);
    if (!draft.functions.includes(fn)) draft.functions.push(fn);
  };
  const numbered = (b: PhbBuild, n: number, path: string): PeDraft => {
    const { maxPe, reservedPe } = b.phb.info;
    if (!Number.isInteger(n) || n < 0 || n >= maxPe) {
      throw new TopologyError(
        path,
        `PE number must be 0..${maxPe - 1} on ${b.phb.model}, not ${n}`,
      );
    }
    if (n === reservedPe) throw new TopologyError(path, `PE ${reservedPe} is reserved by firmware`);
    const list = drafts.get(b.phb) as PeDraft[];
    let d = list.find((x) => x.number === n);
    if (!d) {
      d = { number: n, kind: 'device', functions: [], path };
      list.push(d);
    }
    return d;
  };

  for (const b of builds) {
    for (const p of b.placed) {
      if (p.spec.pe === undefined) continue;
      const d = numbered(b, p.spec.pe, `${p.path}.pe`);
      for (const f of p.functions) join(d, f, `${p.path}.pe`, formatPciAddress(b.phb.id, f.bdf));
    }
  }
  pes.forEach((ps, k) => {
    const path = `pes[${k}]`;
    if (!Array.isArray(ps?.devices) || ps.devices.length === 0) {
      throw new TopologyError(`${path}.devices`, 'a PE needs at least one function');
    }
    const hits = ps.devices.map((addr, j) => ({
      ...resolve(builds, addr, `${path}.devices[${j}]`),
      j,
    }));
    const first = hits[0] as (typeof hits)[number];
    const other = hits.find((h) => h.build !== first.build);
    if (other) {
      throw new TopologyError(
        `${path}.devices[${other.j}]`,
        `PE spans PHB ${first.build.phb.id} and PHB ${other.build.phb.id}`,
      );
    }
    let draft: PeDraft;
    if (ps.number === undefined) {
      draft = { number: undefined, kind: 'device', functions: [], path };
      drafts.get(first.build.phb)?.push(draft);
    } else draft = numbered(first.build, ps.number, `${path}.number`);
    for (const h of hits) {
      for (const f of h.functions) {
        join(draft, f, `${path}.devices[${h.j}]`, formatPciAddress(h.build.phb.id, f.bdf));
      }
    }
  });

  for (const b of builds) {
    const list = drafts.get(b.phb) as PeDraft[];
    const grouping = b.spec.peGrouping ?? 'device';
    const byBus = new Map<number, PeDraft>();
    const fresh = (path: string): PeDraft => {
      const d: PeDraft = { number: undefined, kind: grouping, functions: [], path };
      list.push(d);
      return d;
    };
    for (const p of b.placed) {
      const free = p.functions.filter((f) => !owner.has(f));
      const own = grouping === 'device' && free.length > 0 ? fresh(p.path) : undefined;
      for (const f of free) {
        let d = own ?? byBus.get(bdfBus(f.bdf));
        if (!d) {
          d = fresh(p.path);
          byBus.set(bdfBus(f.bdf), d);
        }
        join(d, f, p.path, formatPciAddress(b.phb.id, f.bdf));
      }
    }
    const used = new Set(list.flatMap((d) => (d.number === undefined ? [] : [d.number])));
    let next = 1;
    for (const d of list) {
      if (d.number !== undefined) continue;
      while (used.has(next) || next === b.phb.info.reservedPe) next++;
      if (next >= b.phb.info.maxPe) throw new TopologyError(d.path, 'out of PE numbers');
      d.number = next;
      used.add(next);
    }
    const window = b.spec.dmaWindowSize ?? DEFAULT_DMA_WINDOW;
    for (const d of list) {
      const pe = b.phb.configurePe(d.number as number, d.kind, window);
      for (const f of d.functions) b.phb.assignRid(f, pe);
    }
    const paths = new Map(list.map((d) => [d.number as number, d.path]));
    linkPeTree(b.phb, (pe) => paths.get(pe.number) as string);
  }
}

/** The functions a PCI address in a `pes` entry selects. */
function resolve(
  builds: readonly PhbBuild[],
  addr: string,
  path: string,
): { build: PhbBuild; functions: readonly PciFunction[] } {
  const m = /^([0-9a-fA-F]{4}):(.+)$/.exec(typeof addr === 'string' ? addr.trim() : '');
  const bdf = m ? parseBdf(m[2] as string) : undefined;
  if (!m || bdf === undefined) {
    throw new TopologyError(path, `'${addr}' is not a PCI address like 0000:01:00.0`);
  }
  const domain = Number.parseInt(m[1] as string, 16);
  const build = builds.find((b) => b.phb.id === domain);
  if (!build) throw new TopologyError(path, `no PHB with id ${domain} (the domain of '${addr}')`);
  const device = build.placed.find((p) => p.functions[0]?.bdf === bdf);
  if (device) return { build, functions: device.functions };
  const fn = build.phb.allFunctions().find((f) => f.bdf === bdf);
  if (!fn)
    throw new TopologyError(path, `no function ${formatPciAddress(domain, bdf)} in the topology`);
  return { build, functions: [fn] };
}

/**
 * A PE's parent is the PE of the bridge directly above its shallowest
 * function (Linux's eeh_pe tree follows the PCI tree). Explicit grouping can
 * make a loop; that is an error.
 */
function linkPeTree(phb: Phb, pathOf: (pe: Pe) => string): void {
  const depth = (f: PciFunction): number => {
    let n = 0;
    for (let b = phb.parentOf(f); b; b = phb.parentOf(b)) n++;
    return n;
  };
  const pes = phb.pes();
  for (const pe of pes) {
    const byDepth = [...pe.functions].sort((a, b) => depth(a) - depth(b));
    for (const f of byDepth) {
      const bridge = phb.parentOf(f);
      const parent = bridge && phb.peOf(bridge);
      if (parent && parent !== pe) {
        pe.parent = parent;
        parent.children.push(pe);
        break;
      }
    }
  }
  for (const pe of pes) {
    const seen = new Set<Pe>();
    for (let p: Pe | undefined = pe; p; p = p.parent) {
      if (seen.has(p)) {
        throw new TopologyError(pathOf(pe), `PE ${pe.number} is its own ancestor (grouping loops)`);
      }
      seen.add(p);
    }
  }
}
