// The wire contract shared by manager, agent and web: error shape and common schemas.
export * from './errors.js';
export * from './probes.js';
