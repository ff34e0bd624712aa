/**
 * Saving and restoring a device's config space around a PE reset, through
 * the platform's config accessors (eeh_ops->read_config / write_config):
 * eeh_save_bars() in arch/powerpc/kernel/eeh.c and
 * eeh_restore_one_device_bars() in arch/powerpc/kernel/eeh_pe.c. The same
 * code serves the host (powernv, OPAL config calls) and the guest (pseries,
 * RTAS ibm,read/write-pci-config).
 */
import type { Task } from '../sim/scheduler.js';
import {
  PCI_CACHE_LINE_SIZE,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_LATENCY_TIMER,
} from '../uapi/pci_regs.js';
import { EEH_DEV_BRIDGE } from './eeh_consts.js';
import type { EehDev } from './eeh_dev.js';
import type { EehOps } from './eeh_ops.js';

/** eeh_save_bars(): the first 16 dwords of config space. */
export function* eehSaveBars(ops: EehOps, edev: EehDev): Task<void> {
  const pdev = edev.pdev;
  if (!pdev) return;
  const saved: number[] = [];
  for (let i = 0; i < 16; i++) saved.push(yield* ops.readConfig(edev, i * 4, 4));
  // Bridges need bus mastering to fetch IODA table entries after a reset.
  if (edev.mode & EEH_DEV_BRIDGE) saved[1] = ((saved[1] as number) | PCI_COMMAND_MASTER) >>> 0;
  pdev.saved = saved;
}

/**
 * eeh_restore_one_device_bars(): a bridge gets its BARs, bus numbers,
 * windows, ROM, cache line / latency, interrupt line and command register
 * (plus memory + master) back; a device its BARs, ROM, cache line /
 * latency, interrupt line, and only the PERR / SERR bits of its command
 * register - the driver re-enables the device in slot_reset.
 */
export function* eehRestoreOneDeviceBars(ops: EehOps, edev: EehDev): Task<void> {
  const s = edev.pdev?.saved;
  if (!s) return;
  const w = (off: number, size: 1 | 2 | 4, v: number) => ops.writeConfig(edev, off, size, v);
  const byte = (off: number): number => ((s[off >> 2] as number) >>> (8 * (off & 3))) & 0xff;
  if (edev.mode & EEH_DEV_BRIDGE) {
    for (let i = 4; i < 12; i++) yield* w(i * 4, 4, s[i] as number);
    yield* w(14 * 4, 4, s[14] as number);
    yield* w(PCI_CACHE_LINE_SIZE, 1, byte(PCI_CACHE_LINE_SIZE));
    yield* w(PCI_LATENCY_TIMER, 1, byte(PCI_LATENCY_TIMER));
    yield* w(15 * 4, 4, s[15] as number);
    yield* w(PCI_COMMAND, 4, ((s[1] as number) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER) >>> 0);
    return;
  }
  for (let i = 4; i < 10; i++) yield* w(i * 4, 4, s[i] as number);
  yield* w(12 * 4, 4, s[12] as number);
  yield* w(PCI_CACHE_LINE_SIZE, 1, byte(PCI_CACHE_LINE_SIZE));
  yield* w(PCI_LATENCY_TIMER, 1, byte(PCI_LATENCY_TIMER));
  yield* w(15 * 4, 4, s[15] as number);
  let cmd = yield* ops.readConfig(edev, PCI_COMMAND, 4);
  const saved = s[1] as number;
  cmd = saved & PCI_COMMAND_PARITY ? cmd | PCI_COMMAND_PARITY : cmd & ~PCI_COMMAND_PARITY;
  cmd = saved & PCI_COMMAND_SERR ? cmd | PCI_COMMAND_SERR : cmd & ~PCI_COMMAND_SERR;
  yield* w(PCI_COMMAND, 4, cmd >>> 0);
}
