// The wire contract shared by manager, agent and web: error shape, enrollment/agent API, config model, probes, results.
export * from './errors.js';
export * from './config.js';
export * from './config-targets.js';
export * from './config-validate.js';
export * from './enrollment.js';
export * from './probes.js';
export * from './results.js';
