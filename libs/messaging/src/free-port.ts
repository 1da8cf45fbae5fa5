import * as net from 'node:net';

/**
 * A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0, read, released), for a
 * server a test or a supervised run starts of its own (a private nats-server): never a fixed port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
