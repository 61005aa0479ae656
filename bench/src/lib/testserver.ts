// The test server as a separate process for benchmarks (same helper the agent's e2e tests use).
export { startTestServerChild, type TestServerChild } from '../../../apps/agent/src/probes/testing/testserver-child.js';
