export type * from '../uapi/device_tree.js';
export * from './eeh_wiring.js';
export * from './guest_memory.js';
export * from './spapr_pci.js';
export * from './spapr_rtas.js';
export * from './vfio_user.js';
export * from './vmm.js';
