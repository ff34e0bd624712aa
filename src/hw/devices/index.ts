/** The device models a topology can name (one file each in this folder). */
export const DEVICE_MODEL_NAMES = ['testnic', 'dual_function', 'pcie_switch'] as const;
export type DeviceModelName = (typeof DEVICE_MODEL_NAMES)[number];

export function isDeviceModel(s: string): s is DeviceModelName {
  return (DEVICE_MODEL_NAMES as readonly string[]).includes(s);
}

export * from './dual_function.js';
export * from './pcie_switch.js';
export * from './testnic.js';
