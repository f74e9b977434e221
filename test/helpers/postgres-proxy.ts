// A TCP proxy the test controls, put between a storage and the shared server to simulate an outage
// without stopping the server other tests use.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * - `forward`: passes bytes both ways (the normal state).
 * - `blackhole`: the network goes silent: connections stay open (new ones are accepted) but no byte
 *   passes, as with a pulled cable or a dropped route. Only timeouts can notice it.
 * - `refuse`: every open connection is reset and new ones are closed at once, as when the server
 *   process died.
 */
export type ProxyMode = 'forward' | 'blackhole' | 'refuse';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Set once bytes were dropped: the protocol stream is broken, the pair cannot forward again. */
  spoiled: boolean;
}

export class TcpProxy {
  readonly host = '127.0.0.1';
  private mode: ProxyMode = 'forward';
  private readonly pairs = new Set<Pair>();
  /** Connections accepted since the proxy started (each pooled connection a storage opened). */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('proxy: no address');
    return new TcpProxy(server, address.port, { host: targetHost, port: targetPort });
  }

  /** A connection string that goes through the proxy to `url`'s user and database. */
  urlFor(url: string): string {
    const through = new URL(url);
    through.hostname = this.host;
    through.port = String(this.port);
    return through.toString();
  }

  /** Connections open through the proxy right now. */
  get open(): number {
    return this.pairs.size;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'refuse') {
      for (const pair of this.pairs) this.drop(pair);
    } else if (mode === 'forward') {
      // A connection that lost bytes while the network was silent can only be dropped.
      for (const pair of this.pairs) if (pair.spoiled) this.drop(pair);
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) this.drop(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined, spoiled: false };
    this.pairs.add(pair);
    client.on('error', () => this.drop(pair));
    client.on('close', () => this.drop(pair));
    if (this.mode === 'blackhole') {
      // Accepted, and then nothing: the client's connect timeout has to notice.
      pair.spoiled = true;
      client.on('data', () => undefined);
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => this.drop(pair));
    upstream.on('close', () => this.drop(pair));
    client.on('data', (chunk) => this.pass(pair, upstream, chunk));
    upstream.on('data', (chunk) => this.pass(pair, client, chunk));
  }

  private pass(pair: Pair, to: Socket, chunk: Buffer): void {
    if (this.mode !== 'forward' || pair.spoiled) {
      pair.spoiled = true; // the bytes are lost, as on a dead link
      return;
    }
    to.write(chunk);
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (pair.upstream && !pair.upstream.destroyed) pair.upstream.destroy();
  }
}
