/** The hardware layer: PCI config space, devices, PHB + PEs + TCE IOMMU, topology. */
export * from './assign.js';
export * from './config_layout.js';
export * from './config_space.js';
export * from './device.js';
export * from './devices/index.js';
export * from './error_injection.js';
export * from './hardware.js';
export * from './memory.js';
export * from './mmio_fast_path.js';
export * from './pe.js';
export * from './phb.js';
export * from './phb_models.js';
export * from './range_table.js';
export * from './register_bank.js';
export * from './reset_timing.js';
export * from './tce.js';
export * from './topology.js';
