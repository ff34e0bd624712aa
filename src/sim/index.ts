export * from './accounting.js';
export * from './costs.js';
export * from './layers.js';
export * from './rng.js';
export * from './scheduler.js';
export * from './sim.js';
export * from './time.js';
export * from './trace.js';
