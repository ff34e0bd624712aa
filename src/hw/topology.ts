/**
 * Builds the I/O hardware from a plain, serialisable description (what a
 * scenario file holds): PHBs with their devices (switches nest devices below
 * their downstream ports) and optional explicit PE grouping. Everything is
 * validated first; the first problem throws a TopologyError naming the
 * offending path (`phbs[0].devices[1].bdf`).
 *
 * Bus numbers are those a depth-first enumeration gives (as skiboot and
 * Linux number buses): the root bus is 0, a switch's internal bus is the
 * next free number, then each downstream port's bus in order, depth first.
 * A device below a port must use that port's bus in its BDF.
 *
 * Default PE grouping (for functions no `pes` entry names): every device on
 * the root bus is a device PE holding all its functions (a switch: its
 * upstream and downstream ports); everything below a downstream port is one
 * bus PE, a child of the switch's PE. Default PE numbers count up from 1.
 */
import type { Sim } from '../sim/sim.js';
import { type Bdf, bdfBus, bdfFn, formatBdf, parseBdf, phbId } from '../uapi/ids.js';
import type { PciBridge, PciFunction } from './device.js';
import {
  createDualFunction,
  createPcieSwitch,
  createTestNic,
  DEVICE_MODEL_NAMES,
  isDeviceModel,
} from './devices/index.js';
import { formatPciAddress, Hardware } from './hardware.js';
import { HostMemory } from './memory.js';
import type { Pe, PeKind } from './pe.js';
import { Phb } from './phb.js';
import { isPhbModel, PHB_MODEL_NAMES } from './phb_models.js';

export interface TopologySpec {
  readonly phbs: readonly PhbSpec[];
  /** Explicit PE grouping; functions not named here get default PEs. */
  readonly pes?: readonly PeSpec[];
  /** Host memory the allocator hands out (defaults: from 4 GiB, 64 GiB). */
  readonly memory?: { readonly base?: number; readonly size?: number };
}

export interface PhbSpec {
  /** OPAL PHB id; also the PCI domain number. */
  readonly id: number;
  /** `phb3` (POWER8) or `phb4` (POWER9). */
  readonly model: string;
  /** MMIO window (default: 256 MiB at 0x8000_0000 + 256 MiB * position). Below 4 GiB. */
  readonly mmioWindow?: { readonly base: number; readonly size: number };
  /** Size of each PE's 32-bit DMA window in bytes (default 1 GiB). */
  readonly dmaWindowSize?: number;
  readonly devices: readonly DeviceSpec[];
}

export interface DeviceSpec {
  /** One of DEVICE_MODEL_NAMES: `testnic`, `dual_function`, `pcie_switch`. */
  readonly model: string;
  /** `bb:dd.f` (hex). Function 0 for multi-function devices and switches. */
  readonly bdf: string;
  /** Optional name to find the device by (`Hardware.named`). */
  readonly name?: string;
  /** pcie_switch only: one entry per downstream port. */
  readonly ports?: readonly PortSpec[];
}

export interface PortSpec {
  readonly devices: readonly DeviceSpec[];
}

export interface PeSpec {
  /** PE number (default: the lowest free one from 1). */
  readonly number?: number;
  /** Functions by PCI address `dddd:bb:dd.f` (domain = PHB id); one PHB only. */
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

export const DEFAULT_WINDOW_BASE = 0x8000_0000;
export const DEFAULT_WINDOW_SIZE = 0x1000_0000;
export const DEFAULT_DMA_WINDOW = 0x4000_0000;
const MIB = 0x10_0000;

/** A device as placed: its functions, its downstream ports and what hangs below them. */
interface Node {
  readonly path: string;
  readonly functions: readonly PciFunction[];
  readonly ports: readonly { readonly bridge: PciBridge; readonly nodes: Node[] }[];
}

interface PeDraft {
  number: number | undefined;
  readonly kind: Exclude<PeKind, 'reserved'>;
  readonly functions: PciFunction[];
  readonly path: string;
}

interface PlacedPhb {
  readonly phb: Phb;
  readonly nodes: Node[];
  readonly dmaWindowSize: number;
}

/** Validates `spec` and builds the hardware it describes. */
export function buildHardware(sim: Sim, spec: TopologySpec): Hardware {
  if (!Array.isArray(spec?.phbs) || spec.phbs.length === 0) {
    throw new TopologyError('phbs', 'at least one PHB is needed');
  }
  const memory = new HostMemory(spec.memory);
  const names = new Map<string, PciFunction[]>();
  const placed: PlacedPhb[] = [];
  const windows: { base: number; size: number; path: string }[] = [];

  spec.phbs.forEach((ps, i) => {
    const path = `phbs[${i}]`;
    if (!Number.isInteger(ps.id) || ps.id < 0 || ps.id > 0xffff) {
      throw new TopologyError(`${path}.id`, `PHB id must be an integer 0..65535, not ${ps.id}`);
    }
    const dup = placed.findIndex((p) => p.phb.id === ps.id);
    if (dup >= 0)
      throw new TopologyError(`${path}.id`, `duplicate PHB id ${ps.id} (also phbs[${dup}])`);
    if (!isPhbModel(ps.model)) {
      throw new TopologyError(
        `${path}.model`,
        `unknown PHB model '${ps.model}' (known: ${PHB_MODEL_NAMES.join(', ')})`,
      );
    }
    const window = checkWindow(ps, i, path, windows);
    const dmaWindowSize = ps.dmaWindowSize ?? DEFAULT_DMA_WINDOW;
    if (!Number.isSafeInteger(dmaWindowSize) || dmaWindowSize <= 0 || dmaWindowSize % 4096) {
      throw new TopologyError(`${path}.dmaWindowSize`, 'must be a positive multiple of 4 KiB');
    }
    const phb = new Phb({ sim }, phbId(ps.id), ps.model, window, memory);
    if (!Array.isArray(ps.devices)) throw new TopologyError(`${path}.devices`, 'must be a list');
    const builder = new BusBuilder(phb, names);
    const nodes = builder.place(ps.devices, `${path}.devices`, 0, undefined);
    placed.push({ phb, nodes, dmaWindowSize });
  });

  assignPes(spec.pes ?? [], placed);
  return new Hardware(
    sim,
    memory,
    placed.map((p) => p.phb),
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
  if (
    !Number.isSafeInteger(w.base) ||
    !Number.isSafeInteger(w.size) ||
    w.base % MIB !== 0 ||
    w.size % MIB !== 0 ||
    w.size <= 0
  ) {
    throw new TopologyError(wpath, 'base and size must be positive multiples of 1 MiB');
  }
  if (w.base + w.size > 2 ** 32) {
    throw new TopologyError(wpath, 'must lie below 4 GiB (32-bit BARs and bridge windows)');
  }
  const clash = taken.find((t) => w.base < t.base + t.size && t.base < w.base + w.size);
  if (clash) throw new TopologyError(wpath, `overlaps the window of ${clash.path}`);
  taken.push({ ...w, path });
  return w;
}

/** Places devices bus by bus, numbering buses depth first. */
class BusBuilder {
  private nextBus = 1;
  private readonly rids = new Map<number, string>();

  constructor(
    private readonly phb: Phb,
    private readonly names: Map<string, PciFunction[]>,
  ) {}

  place(specs: readonly DeviceSpec[], path: string, bus: number, parent?: PciBridge): Node[] {
    return specs.map((d, i) => this.placeOne(d, `${path}[${i}]`, bus, parent));
  }

  private placeOne(d: DeviceSpec, path: string, bus: number, parent?: PciBridge): Node {
    const sim = this.phb.ctx.sim;
    const ctx = { sim };
    if (!isDeviceModel(d.model)) {
      throw new TopologyError(
        `${path}.model`,
        `unknown device model '${d.model}' (known: ${DEVICE_MODEL_NAMES.join(', ')})`,
      );
    }
    const at = typeof d.bdf === 'string' ? parseBdf(d.bdf) : undefined;
    if (at === undefined) {
      throw new TopologyError(`${path}.bdf`, `'${d.bdf}' is not a BDF like 01:00.0`);
    }
    if (bdfBus(at) !== bus) {
      const where = parent ? `the bus of port ${formatBdf(parent.bdf)}` : 'the PHB root bus';
      throw new TopologyError(
        `${path}.bdf`,
        `'${d.bdf}' is on bus ${hex2(bdfBus(at))} but ${where} is bus ${hex2(bus)}`,
      );
    }
    if (d.ports !== undefined && d.model !== 'pcie_switch') {
      throw new TopologyError(`${path}.ports`, `only a pcie_switch has ports, not a ${d.model}`);
    }
    if ((d.model === 'dual_function' || d.model === 'pcie_switch') && bdfFn(at) !== 0) {
      throw new TopologyError(`${path}.bdf`, `a ${d.model} must be at function 0`);
    }
    let functions: PciFunction[];
    let ports: { bridge: PciBridge; nodes: Node[] }[] = [];
    if (d.model === 'testnic') functions = [createTestNic(ctx, at)];
    else if (d.model === 'dual_function') functions = createDualFunction(ctx, at);
    else {
      if (!Array.isArray(d.ports) || d.ports.length === 0 || d.ports.length > 32) {
        throw new TopologyError(`${path}.ports`, 'a pcie_switch needs 1..32 downstream ports');
      }
      const internal = this.allocBus(path);
      const sw = createPcieSwitch(ctx, at, internal, d.ports.length);
      functions = [sw.upstream, ...sw.downstream];
      this.attachAll(functions.slice(0, 1), path, parent);
      this.attachAll(sw.downstream, path, sw.upstream);
      ports = sw.downstream.map((bridge, i) => {
        const ppath = `${path}.ports[${i}]`;
        const port = d.ports?.[i] as PortSpec;
        if (!Array.isArray(port?.devices))
          throw new TopologyError(`${ppath}.devices`, 'must be a list');
        const secondary = this.allocBus(ppath);
        const nodes = this.place(port.devices, `${ppath}.devices`, secondary, bridge);
        bridge.plan = { primary: internal, secondary, subordinate: this.nextBus - 1 };
        return { bridge, nodes };
      });
      sw.upstream.plan = { primary: bus, secondary: internal, subordinate: this.nextBus - 1 };
    }
    if (d.model !== 'pcie_switch') this.attachAll(functions, path, parent);
    if (d.name !== undefined) {
      if (this.names.has(d.name))
        throw new TopologyError(`${path}.name`, `duplicate name '${d.name}'`);
      this.names.set(d.name, functions);
    }
    return { path, functions, ports };
  }

  private attachAll(fns: readonly PciFunction[], path: string, parent?: PciBridge): void {
    for (const fn of fns) {
      const other = this.rids.get(fn.bdf);
      if (other !== undefined) {
        throw new TopologyError(
          `${path}.bdf`,
          `duplicate BDF ${formatBdf(fn.bdf)} on PHB ${this.phb.id} (also ${other})`,
        );
      }
      this.rids.set(fn.bdf, path);
      this.phb.attach(fn, parent);
    }
  }

  private allocBus(path: string): number {
    if (this.nextBus > 0xff) throw new TopologyError(path, 'more than 255 buses below one PHB');
    return this.nextBus++;
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Explicit PEs first, then default PEs, then numbers, RTT entries and the PE tree. */
function assignPes(pes: readonly PeSpec[], placed: readonly PlacedPhb[]): void {
  const drafts = new Map<Phb, PeDraft[]>(placed.map((p) => [p.phb, []]));
  const owner = new Map<PciFunction, PeDraft>();

  pes.forEach((ps, k) => {
    const path = `pes[${k}]`;
    if (!Array.isArray(ps.devices) || ps.devices.length === 0) {
      throw new TopologyError(`${path}.devices`, 'a PE needs at least one function');
    }
    let phb: Phb | undefined;
    const draft: PeDraft = { number: ps.number, kind: 'device', functions: [], path };
    ps.devices.forEach((addr, j) => {
      const dpath = `${path}.devices[${j}]`;
      const hit = findAddress(placed, addr, dpath);
      if (phb && hit.phb !== phb) {
        throw new TopologyError(dpath, `PE spans PHB ${phb.id} and PHB ${hit.phb.id}`);
      }
      phb = hit.phb;
      const prev = owner.get(hit.fn);
      if (prev) throw new TopologyError(dpath, `${addr} is already in ${prev.path}`);
      owner.set(hit.fn, draft);
      draft.functions.push(hit.fn);
    });
    const p = phb as Phb;
    if (ps.number !== undefined) {
      const { maxPe, reservedPe } = p.info;
      if (!Number.isInteger(ps.number) || ps.number < 0 || ps.number >= maxPe) {
        throw new TopologyError(
          `${path}.number`,
          `PE number must be 0..${maxPe - 1} on ${p.model}`,
        );
      }
      if (ps.number === reservedPe) {
        throw new TopologyError(`${path}.number`, `PE ${reservedPe} is reserved by firmware`);
      }
      const same = drafts.get(p)?.find((d) => d.number === ps.number);
      if (same) throw new TopologyError(`${path}.number`, `PE ${ps.number} is also ${same.path}`);
    }
    drafts.get(p)?.push(draft);
  });

  for (const { phb, nodes, dmaWindowSize } of placed) {
    const list = drafts.get(phb) as PeDraft[];
    const walk = (ns: readonly Node[], inherited: PeDraft | undefined): void => {
      for (const node of ns) {
        const free = node.functions.filter((f) => !owner.has(f));
        let pe = inherited;
        if (!pe && free.length > 0) {
          pe = { number: undefined, kind: 'device', functions: [], path: node.path };
          list.push(pe);
        }
        for (const f of free) {
          pe?.functions.push(f);
          if (pe) owner.set(f, pe);
        }
        node.ports.forEach((port, i) => {
          let bus = inherited;
          if (!bus) {
            bus = {
              number: undefined,
              kind: 'bus',
              functions: [],
              path: `${node.path}.ports[${i}]`,
            };
            list.push(bus);
          }
          walk(port.nodes, bus);
        });
      }
    };
    walk(nodes, undefined);

    const used = new Set(list.flatMap((d) => (d.number === undefined ? [] : [d.number])));
    let next = 1;
    for (const d of list) {
      if (d.functions.length === 0 || d.number !== undefined) continue;
      while (used.has(next) || next === phb.info.reservedPe) next++;
      if (next >= phb.info.maxPe) throw new TopologyError(d.path, 'out of PE numbers');
      d.number = next;
      used.add(next);
    }
    for (const d of list) {
      if (d.functions.length === 0) continue;
      const pe = phb.configurePe(d.number as number, d.kind, dmaWindowSize);
      for (const f of d.functions) phb.assignRid(f, pe);
    }
    const paths = new Map(list.map((d) => [d.number as number, d.path]));
    linkPeTree(phb, (pe) => paths.get(pe.number) ?? `phbs PHB ${phb.id}`);
  }
}

function findAddress(
  placed: readonly PlacedPhb[],
  addr: string,
  path: string,
): { phb: Phb; fn: PciFunction } {
  const m = /^([0-9a-fA-F]{4}):(.+)$/.exec(typeof addr === 'string' ? addr.trim() : '');
  const bdf = m ? parseBdf(m[2] as string) : undefined;
  if (!m || bdf === undefined) {
    throw new TopologyError(path, `'${addr}' is not a PCI address like 0000:01:00.0`);
  }
  const domain = Number.parseInt(m[1] as string, 16);
  const phb = placed.find((p) => p.phb.id === domain)?.phb;
  if (!phb) throw new TopologyError(path, `no PHB with id ${domain} (domain of '${addr}')`);
  const fn = phb.allFunctions().find((f) => f.bdf === (bdf as Bdf));
  if (!fn)
    throw new TopologyError(path, `no function ${formatPciAddress(phb.id, bdf)} on PHB ${domain}`);
  return { phb, fn };
}

/**
 * A PE's parent is the PE of the bridge directly above its shallowest
 * function (as Linux's eeh_pe tree follows the PCI tree). Explicit grouping
 * can produce a loop; that is an error.
 */
function linkPeTree(phb: Phb, pathOf: (pe: Pe) => string): void {
  const depth = (f: PciFunction): number => {
    let n = 0;
    for (let b = phb.parentOf(f); b; b = phb.parentOf(b)) n++;
    return n;
  };
  const pes = phb.pes();
  for (const pe of pes) {
    const top = [...pe.functions].sort((a, b) => depth(a) - depth(b));
    for (const f of top) {
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
        throw new TopologyError(
          pathOf(pe),
          `PE ${pe.number} is its own ancestor (PE grouping loops)`,
        );
      }
      seen.add(p);
    }
  }
}
