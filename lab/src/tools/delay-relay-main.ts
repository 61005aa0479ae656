// Entry of the delay relay process that Lab.startDelayRelay runs inside a host's namespace.
import { parseArgs } from 'node:util';
import { startTcpRelay, startUdpRelay } from '../delay-relay.js';

const { values } = parseArgs({
  options: {
    protocol: { type: 'string', default: 'tcp' },
    'listen-address': { type: 'string', default: '0.0.0.0' },
    'listen-port': { type: 'string' },
    'target-address': { type: 'string' },
    'target-port': { type: 'string' },
    'delay-ms': { type: 'string' },
  },
});

const options = {
  listenAddress: values['listen-address'],
  listenPort: Number(values['listen-port']),
  targetAddress: values['target-address'] ?? '',
  targetPort: Number(values['target-port']),
  delayMs: Number(values['delay-ms']),
};
if (!options.targetAddress || !(options.delayMs >= 0) || !Number.isInteger(options.targetPort)) {
  process.stderr.write(
    'usage: delay-relay-main --protocol tcp|udp --listen-port P --target-address A --target-port P --delay-ms D\n',
  );
  process.exit(2);
}
const relay = await (values.protocol === 'udp' ? startUdpRelay(options) : startTcpRelay(options));
process.stdout.write(`listening ${relay.port}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void relay.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  });
}
