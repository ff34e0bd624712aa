export * from './boot.js';
export type * from './guest_platform.js';
export * from './host_mmio.js';
export * from './kvm.js';
export * from './rtas_eeh.js';
export * from './rtas_services.js';
export * from './uapi_memory.js';
export * from './user_memory.js';
export * from './vm.js';
