// A TCP proxy to one server that can go silent: connections stay open (and new ones are accepted),
// but nothing is passed on either way, as with a hung server or a network partition. Clients see no
// error, only requests that never get a reply, which is what their own timeouts must handle.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export class SilentProxy {
  readonly #host: string;
  readonly #port: number;
  #server: Server | undefined;
  #silent = false;
  readonly #pairs = new Set<[Socket, Socket | undefined]>();

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  /** host:port clients connect to. */
  get address(): string {
    const a = this.#server?.address();
    if (!a || typeof a === 'string') throw new Error('the proxy is not listening');
    return `127.0.0.1:${a.port}`;
  }

  /** Listens on `port` (a port a client was already given), or on a free one. */
  async start(port = 0): Promise<void> {
    this.#server = createServer((client) => {
      client.on('error', () => {});
      if (this.#silent) {
        const pair: [Socket, Socket | undefined] = [client, undefined];
        this.#pairs.add(pair);
        client.on('data', () => {});
        client.on('close', () => this.#pairs.delete(pair));
        return;
      }
      const upstream = tcpConnect(this.#port, this.#host);
      upstream.on('error', () => client.destroy());
      const pair: [Socket, Socket | undefined] = [client, upstream];
      this.#pairs.add(pair);
      client.pipe(upstream).pipe(client);
      client.on('close', () => {
        upstream.destroy();
        this.#pairs.delete(pair);
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
  }

  /** From now on nothing passes: bytes sent either way are dropped, connections stay open. */
  silence(): void {
    this.#silent = true;
    for (const [client, upstream] of this.#pairs) {
      if (!upstream) continue;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.on('data', () => {});
      upstream.on('data', () => {});
    }
  }

  /** Answers again: the silent connections are closed (their clients reconnect), new ones pass. */
  answer(): void {
    this.#silent = false;
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.answer();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
