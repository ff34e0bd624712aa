export * from './designs.js';
export * from './faults.js';
export * from './machine.js';
export * from './result.js';
export * from './runner.js';
export * from './steps.js';
export * from './summary.js';
export * from './workloads.js';
