import { describe, expect, it } from 'vitest';
import {
  buildHardware,
  type DeviceSpec,
  type PhbSpec,
  TopologyError,
  type TopologySpec,
} from '../../src/hw/topology.js';
import { Sim } from '../../src/sim/sim.js';
import { MACHINE } from './helpers.js';

const build = (spec: TopologySpec) => buildHardware(new Sim(), spec);
const phb = (devices: DeviceSpec[], more: Partial<PhbSpec> = {}): PhbSpec => ({
  id: 0,
  model: 'phb3',
  devices,
  ...more,
});

/** The TopologyError `spec` raises, as `path: problem`. */
function error(spec: TopologySpec): string {
  try {
    build(spec);
  } catch (e) {
    if (e instanceof TopologyError) return e.message;
    throw e;
  }
  throw new Error('no TopologyError');
}

describe('buildHardware', () => {
  it('numbers buses depth first and builds default device PEs with a PE tree', () => {
    const hw = build({
      phbs: [
        phb([
          { model: 'pcie_switch', bdf: '00:03.0', name: 'sw', ports: 2 },
          { model: 'testnic', bdf: '00:01.0', name: 'nic0' },
          { model: 'pcie_switch', bdf: '02:00.0', name: 'sw2', ports: 1 },
          { model: 'testnic', bdf: '04:00.0', name: 'deep' },
          { model: 'testnic', bdf: '05:00.0', name: 'nic2' },
        ]),
      ],
    });
    const p = hw.phbs[0];
    if (!p) throw new Error('no PHB');
    const pes = p.pes().map((pe) => ({
      n: pe.number,
      fns: pe.functions.map((f) => f.label),
      parent: pe.parent?.number,
    }));
    expect(pes).toEqual([
      { n: 1, fns: ['00:01.0 testnic'], parent: undefined },
      {
        n: 2,
        fns: ['00:03.0 pcie_switch', '01:00.0 pcie_switch', '01:01.0 pcie_switch'],
        parent: undefined,
      },
      { n: 3, fns: ['02:00.0 pcie_switch', '03:00.0 pcie_switch'], parent: 2 },
      { n: 4, fns: ['04:00.0 testnic'], parent: 3 },
      { n: 5, fns: ['05:00.0 testnic'], parent: 2 },
    ]);
    expect(hw.find('0000:05:00.0')?.fn).toBe(hw.named('nic2')[0]);
    expect(p.peOf(hw.named('deep')[0] as never).tce?.windowSize).toBe(0x4000_0000);
  });

  it("groups by bus with peGrouping 'bus', honours device pe numbers and pes entries", () => {
    const hw = build({
      phbs: [
        { ...MACHINE.phbs[0], peGrouping: 'bus' } as PhbSpec,
        phb(
          [
            { model: 'testnic', bdf: '00:01.0', pe: 7 },
            { model: 'testnic', bdf: '00:02.0', pe: 7 },
            { model: 'twofunc', bdf: '00:03.0' },
          ],
          { id: 1 },
        ),
      ],
      pes: [{ number: 9, devices: ['0001:00:03.1'] }],
    });
    const [p0, p1] = hw.phbs;
    if (!p0 || !p1) throw new Error('no PHBs');
    expect(
      p0.pes().map((pe) => [pe.number, pe.kind, pe.functions.length, pe.parent?.number]),
    ).toEqual([
      [1, 'bus', 4, undefined],
      [2, 'bus', 2, 1],
      [3, 'bus', 1, 2],
    ]);
    expect(p1.pes().map((pe) => [pe.number, pe.functions.map((f) => f.label)])).toEqual([
      [1, ['00:03.0 dual_function']],
      [7, ['00:01.0 testnic', '00:02.0 testnic']],
      [9, ['00:03.1 dual_function']],
    ]);
  });

  it('selects a whole device by its address in pes', () => {
    const hw = build({
      phbs: [
        phb([
          { model: 'dual_function', bdf: '00:02.0' },
          { model: 'testnic', bdf: '00:04.0' },
        ]),
      ],
      pes: [{ devices: ['0000:00:02.0', '0000:00:04.0'] }],
    });
    expect(hw.phbs[0]?.pes().map((pe) => pe.functions.length)).toEqual([3]);
  });
});

describe('topology validation names the offending path', () => {
  const cases: [string, TopologySpec, string][] = [
    ['no PHBs', { phbs: [] }, 'phbs: at least one PHB is needed'],
    [
      'unknown device model',
      { phbs: [phb([{ model: 'gpu', bdf: '00:01.0' }])] },
      "phbs[0].devices[0].model: unknown device model 'gpu' (known: testnic, dual_function, pcie_switch)",
    ],
    [
      'bad bdf',
      { phbs: [phb([{ model: 'testnic', bdf: '00:20.0' }])] },
      "phbs[0].devices[0].bdf: '00:20.0' is not a BDF like 01:00.0",
    ],
    [
      'duplicate BDF',
      {
        phbs: [
          phb([
            { model: 'testnic', bdf: '00:01.0' },
            { model: 'testnic', bdf: '00:01.0' },
          ]),
        ],
      },
      'phbs[0].devices[1].bdf: duplicate BDF 00:01.0 (also phbs[0].devices[0])',
    ],
    [
      'duplicate BDF with the second function of a dual_function',
      {
        phbs: [
          phb([
            { model: 'dual_function', bdf: '00:02.0' },
            { model: 'testnic', bdf: '00:02.1' },
          ]),
        ],
      },
      'phbs[0].devices[1].bdf: duplicate BDF 00:02.1 (also phbs[0].devices[0])',
    ],
    [
      'multi-function device not at function 0',
      { phbs: [phb([{ model: 'dual_function', bdf: '00:02.1' }])] },
      'phbs[0].devices[0].bdf: a dual_function must be at function 0',
    ],
    [
      'device behind no port',
      { phbs: [phb([{ model: 'testnic', bdf: '05:00.0' }])] },
      'phbs[0].devices[0].bdf: bus 05 is behind no downstream port; buses here: 00 (the root bus)',
    ],
    [
      "device on a switch's internal bus",
      {
        phbs: [
          phb([
            { model: 'pcie_switch', bdf: '00:03.0' },
            { model: 'testnic', bdf: '01:05.0' },
          ]),
        ],
      },
      'phbs[0].devices[1].bdf: bus 01 is the internal bus of switch 00:03.0 (its ports only)',
    ],
    [
      'ports on a non-switch',
      { phbs: [phb([{ model: 'testnic', bdf: '00:01.0', ports: 2 }])] },
      'phbs[0].devices[0].ports: only a pcie_switch has ports, not a testnic',
    ],
    [
      'too many ports',
      { phbs: [phb([{ model: 'switch', bdf: '00:01.0', ports: 33 }])] },
      'phbs[0].devices[0].ports: a pcie_switch has 1..32 downstream ports',
    ],
    [
      'duplicate name',
      {
        phbs: [
          phb([
            { model: 'testnic', bdf: '00:01.0', name: 'a' },
            { model: 'testnic', bdf: '00:02.0', name: 'a' },
          ]),
        ],
      },
      "phbs[0].devices[1].name: duplicate name 'a'",
    ],
    [
      'duplicate PHB id',
      { phbs: [phb([]), phb([])] },
      'phbs[1].id: duplicate PHB id 0 (also phbs[0])',
    ],
    [
      'unknown PHB model',
      { phbs: [phb([], { model: 'phb9' })] },
      "phbs[0].model: unknown PHB model 'phb9' (known: phb3, phb4)",
    ],
    [
      'overlapping windows',
      {
        phbs: [phb([]), phb([], { id: 1, mmioWindow: { base: 0x8000_0000, size: 0x10_0000 } })],
      },
      'phbs[1].mmioWindow: overlaps the window of phbs[0]',
    ],
    [
      'window above 4 GiB',
      { phbs: [phb([], { mmioWindow: { base: 0xfff0_0000, size: 0x20_0000 } })] },
      'phbs[0].mmioWindow: must be non-empty and below 4 GiB (32-bit BARs and windows)',
    ],
    [
      'misaligned window',
      { phbs: [phb([], { mmioWindow: { base: 0x8000_1000, size: 0x10_0000 } })] },
      'phbs[0].mmioWindow: base and size must be multiples of 1 MiB',
    ],
    [
      'bad DMA window',
      { phbs: [phb([], { dmaWindowSize: 100 })] },
      'phbs[0].dmaWindowSize: must be a positive multiple of 4 KiB',
    ],
    [
      'PE spanning two PHBs',
      {
        phbs: [
          phb([{ model: 'testnic', bdf: '00:01.0' }]),
          phb([{ model: 'testnic', bdf: '00:01.0' }], { id: 1 }),
        ],
        pes: [{ devices: ['0000:00:01.0', '0001:00:01.0'] }],
      },
      'pes[0].devices[1]: PE spans PHB 0 and PHB 1',
    ],
    [
      'PE naming a function that does not exist',
      { phbs: [phb([{ model: 'testnic', bdf: '00:01.0' }])], pes: [{ devices: ['0000:00:09.0'] }] },
      'pes[0].devices[0]: no function 0000:00:09.0 in the topology',
    ],
    [
      'PE on an unknown PHB',
      { phbs: [phb([{ model: 'testnic', bdf: '00:01.0' }])], pes: [{ devices: ['0007:00:01.0'] }] },
      "pes[0].devices[0]: no PHB with id 7 (the domain of '0007:00:01.0')",
    ],
    [
      'function in two PEs',
      {
        phbs: [phb([{ model: 'testnic', bdf: '00:01.0', pe: 3 }])],
        pes: [{ number: 4, devices: ['0000:00:01.0'] }],
      },
      'pes[0].devices[0]: 0000:00:01.0 is already in phbs[0].devices[0].pe',
    ],
    [
      'reserved PE number',
      { phbs: [phb([{ model: 'testnic', bdf: '00:01.0', pe: 255 }])] },
      'phbs[0].devices[0].pe: PE 255 is reserved by firmware',
    ],
    [
      'PE number out of range',
      { phbs: [phb([{ model: 'testnic', bdf: '00:01.0', pe: 256 }])] },
      'phbs[0].devices[0].pe: PE number must be 0..255 on phb3, not 256',
    ],
    [
      'PE grouping that loops',
      {
        phbs: [
          phb([
            { model: 'pcie_switch', bdf: '00:03.0' },
            { model: 'pcie_switch', bdf: '02:00.0', ports: 1 },
            { model: 'testnic', bdf: '04:00.0' },
          ]),
        ],
        // The outer switch and the NIC below the inner switch: the inner
        // switch's PE is below this one, and this one below it.
        pes: [{ devices: ['0000:00:03.0', '0000:04:00.0'] }],
      },
      'pes[0]: PE 1 is its own ancestor (grouping loops)',
    ],
  ];
  it.each(cases)('%s', (_what, spec, message) => {
    expect(error(spec)).toBe(message);
  });
});
