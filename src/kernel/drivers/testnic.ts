/**
 * The parts of the testnic driver that the host kernel's driver
 * (src/host/drivers/testnic.ts) and the guest kernel's drivers
 * (src/guest/drivers/testnic.ts) share: like any Linux PCI driver, it is
 * the same source in both kernels (cf. drivers/net/ethernet/*: the id table,
 * the register programming). The registers are the hardware's
 * (src/hw/devices/testnic.ts).
 */
import {
  TESTNIC_CONTROL,
  TESTNIC_DEVICE_ID,
  TESTNIC_DMA_DEV_OFF,
  TESTNIC_DMA_IOVA_HI,
  TESTNIC_DMA_IOVA_LO,
  TESTNIC_DMA_LEN,
  TESTNIC_DOORBELL,
  TESTNIC_ID,
  TESTNIC_LINK_STATUS,
  TESTNIC_SCRATCH,
  TESTNIC_STATUS,
  TESTNIC_VENDOR_ID,
} from '../../hw/devices/testnic.js';
import type { Task } from '../../sim/scheduler.js';

/** The driver's `struct pci_device_id` table: testnic's vendor / device id. */
export const testnicMatches = (vendor: number, device: number): boolean =>
  vendor === TESTNIC_VENDOR_ID && device === TESTNIC_DEVICE_ID;

const REG_NAMES: Readonly<Record<number, string>> = {
  [TESTNIC_ID]: 'ID',
  [TESTNIC_CONTROL]: 'CONTROL',
  [TESTNIC_STATUS]: 'STATUS',
  [TESTNIC_SCRATCH]: 'SCRATCH',
  [TESTNIC_LINK_STATUS]: 'LINK_STATUS',
  [TESTNIC_DOORBELL]: 'DOORBELL',
  [TESTNIC_DMA_IOVA_LO]: 'DMA_IOVA_LO',
  [TESTNIC_DMA_IOVA_HI]: 'DMA_IOVA_HI',
  [TESTNIC_DMA_LEN]: 'DMA_LEN',
  [TESTNIC_DMA_DEV_OFF]: 'DMA_DEV_OFF',
};

/** A BAR0 register's name (`0x..` for one the driver does not know). */
export const testnicRegName = (reg: number): string => REG_NAMES[reg] ?? `0x${reg.toString(16)}`;

/**
 * Programs one DMA descriptor (IOVA, length, device buffer offset) and
 * rings the doorbell with `cmd` (TESTNIC_DMA_TO_DEVICE / _FROM_DEVICE),
 * through the caller's register store (`writel(regs + reg, value)`).
 */
export function* testnicStartDma(
  writel: (reg: number, value: number) => Task<void>,
  cmd: number,
  iova: number,
  len: number,
  devOff: number,
): Task<void> {
  yield* writel(TESTNIC_DMA_IOVA_LO, iova % 2 ** 32);
  yield* writel(TESTNIC_DMA_IOVA_HI, Math.floor(iova / 2 ** 32));
  yield* writel(TESTNIC_DMA_LEN, len);
  yield* writel(TESTNIC_DMA_DEV_OFF, devOff);
  yield* writel(TESTNIC_DOORBELL, cmd);
}
