// Echo server and round-trip client for lab tests: `echo-main server tcp|udp PORT`, `echo-main rtt tcp|udp ADDR PORT [N]`.
import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';

const [mode, protocol, ...rest] = process.argv.slice(2);

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

if (mode === 'server') {
  const port = Number(rest[0]);
  if (protocol === 'udp') {
    const socket = createSocket('udp4');
    socket.on('message', (msg, peer) => socket.send(msg, peer.port, peer.address));
    socket.bind(port, '0.0.0.0', () => process.stdout.write(`listening ${socket.address().port}\n`));
  } else {
    const server = createServer((s) => {
      s.setNoDelay(true);
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    server.listen(port, '0.0.0.0', () => process.stdout.write(`listening ${port}\n`));
  }
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'rtt') {
  const [address = '', portText = '', countText = '5'] = rest;
  const port = Number(portText);
  const count = Math.min(Number(countText), 1000);
  const rtts: number[] = [];
  const deadline = setTimeout(() => fail(`no echo from ${address}:${port} within 10 s`), 10_000);
  if (protocol === 'udp') {
    const socket = createSocket('udp4');
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      socket.send(`ping ${rtts.length}`, port, address);
    };
    socket.on('message', () => {
      rtts.push(performance.now() - sentAt);
      if (rtts.length < count) send();
      else {
        clearTimeout(deadline);
        process.stdout.write(`${JSON.stringify({ rtts })}\n`);
        socket.close();
      }
    });
    send();
  } else {
    const socket = createConnection({ host: address, port }, () => {
      socket.setNoDelay(true);
      let sentAt = performance.now();
      socket.write('x');
      socket.on('data', () => {
        rtts.push(performance.now() - sentAt);
        if (rtts.length < count) {
          sentAt = performance.now();
          socket.write('x');
        } else {
          clearTimeout(deadline);
          process.stdout.write(`${JSON.stringify({ rtts })}\n`);
          socket.end();
        }
      });
    });
    socket.on('error', (err) => fail(`tcp ${address}:${port}: ${err.message}`));
  }
} else {
  fail('usage: echo-main server tcp|udp PORT | echo-main rtt tcp|udp ADDRESS PORT [COUNT]');
}
