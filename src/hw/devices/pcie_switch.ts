/**
 * pcie_switch: a PCI Express switch - one upstream port and N downstream
 * ports, each a PCI-to-PCI bridge (type 1 header) with bus numbers, memory
 * windows and secondary bus reset. The upstream port sits on the parent
 * bus; the downstream ports sit on the switch's internal bus (the upstream
 * port's secondary bus), device number = port index; each downstream port
 * leads to its own bus. This is what gives Linux bus PEs and a PE tree.
 * MODEL: no hot-plug slot registers, no ACS, no switch-internal errors.
 */
import { type Bdf, bdf as makeBdf } from '../../uapi/ids.js';
import { PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_UPSTREAM } from '../../uapi/pci_regs.js';
import { defineType1Header } from '../config_layout.js';
import { type HwContext, PciBridge } from '../device.js';

export const SWITCH_VENDOR_ID = 0x1234;
export const SWITCH_UPSTREAM_DEVICE_ID = 0xee03;
export const SWITCH_DOWNSTREAM_DEVICE_ID = 0xee04;
/** Class code of a PCI-to-PCI bridge. */
const PCI_CLASS_BRIDGE_PCI = 0x06_04_00;

export class SwitchPort extends PciBridge {
  constructor(
    ctx: HwContext,
    bdf: Bdf,
    readonly upstream: boolean,
  ) {
    super(
      ctx,
      bdf,
      'pcie_switch',
      [],
      (cs) =>
        defineType1Header(cs, {
          vendor: SWITCH_VENDOR_ID,
          device: upstream ? SWITCH_UPSTREAM_DEVICE_ID : SWITCH_DOWNSTREAM_DEVICE_ID,
          classCode: PCI_CLASS_BRIDGE_PCI,
        }),
      upstream ? PCI_EXP_TYPE_UPSTREAM : PCI_EXP_TYPE_DOWNSTREAM,
    );
  }
}

export interface PcieSwitch {
  readonly upstream: SwitchPort;
  readonly downstream: readonly SwitchPort[];
}

/** A switch whose upstream port is at `at` and whose internal bus is `internalBus`. */
export function createPcieSwitch(
  ctx: HwContext,
  at: Bdf,
  internalBus: number,
  ports: number,
): PcieSwitch {
  const upstream = new SwitchPort(ctx, at, true);
  const downstream = Array.from(
    { length: ports },
    (_, i) => new SwitchPort(ctx, makeBdf(internalBus, i, 0), false),
  );
  return { upstream, downstream };
}
