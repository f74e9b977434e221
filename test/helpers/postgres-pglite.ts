// Serves a PGlite database over TCP to many clients at once, with @electric-sql/pglite-socket's
// connection handler (wire framing, SSL and cancel requests) and a scheduler of our own.
//
// Why not PGLiteSocketServer: PGlite has one backend, so the server multiplexes connections onto it
// one protocol message at a time. pglite-socket 0.2.17 keeps a connection to itself only inside an
// explicit transaction, so between one client's Parse, Bind and Execute another client's messages
// run, replacing the unnamed statement and portal: with several pools querying at once, statements
// fail with 'portal "" does not exist' or return another query's rows. Here a connection keeps the
// backend from its first message to the end of its message cycle (Sync, or a simple Query), and for
// as long as it has a transaction open, as a real server's separate backends would behave. For the
// same reason, the names of prepared statements are made per connection (on one backend they would
// be shared, and a second connection preparing the same name would fail with 42P05).
import { createServer, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';

interface Pending {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (error: Error) => void;
}

const SYNC = 'S'.charCodeAt(0);
const QUERY = 'Q'.charCodeAt(0);
const TERMINATE = 'X'.charCodeAt(0);

const PARSE = 'P'.charCodeAt(0);
const BIND = 'B'.charCodeAt(0);
const DESCRIBE = 'D'.charCodeAt(0);
const CLOSE = 'C'.charCodeAt(0);
const STATEMENT = 'S'.charCodeAt(0);

/**
 * Gives a named prepared statement in a Parse, Bind, Describe or Close message a name of its
 * connection's own (`c<handler>_<name>`); the unnamed statement and other messages pass as they are.
 */
function scopeStatementName(handlerId: number, message: Uint8Array): Uint8Array {
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  let at: number; // where the statement name starts
  switch (bytes[0]) {
    case PARSE:
      at = 5;
      break;
    case BIND:
      at = bytes.indexOf(0, 5) + 1; // after the portal name
      break;
    case DESCRIBE:
    case CLOSE:
      if (bytes[5] !== STATEMENT) return message;
      at = 6;
      break;
    default:
      return message;
  }
  const end = bytes.indexOf(0, at);
  if (end <= at) return message; // the unnamed statement
  const name = Buffer.from(`c${handlerId}_${bytes.subarray(at, end).toString('latin1')}`, 'latin1');
  const scoped = Buffer.concat([bytes.subarray(0, at), name, bytes.subarray(end)]);
  scoped.writeInt32BE(scoped.length - 1, 1);
  return new Uint8Array(scoped.buffer, scoped.byteOffset, scoped.length);
}

/** Ends a message cycle: after it, another connection may have the backend (outside a transaction). */
function endsCycle(message: Uint8Array): boolean {
  const type = message[0];
  // A startup packet begins with its length, whose first byte is 0.
  return type === SYNC || type === QUERY || type === TERMINATE || type === 0;
}

/** Has the same methods as pglite-socket's (unexported) QueryQueueManager, which the handler calls. */
class ConnectionScheduler {
  private readonly pending: Pending[] = [];
  /** The connection that has the backend until its cycle (and transaction) ends. */
  private owner: number | undefined;
  private running = false;

  constructor(private readonly db: PGlite) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({
        handlerId,
        message: scopeStatementName(handlerId, message),
        onData,
        resolve,
        reject,
      });
      void this.pump();
    });
  }

  clearQueueForHandler(handlerId: number): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i]!.handlerId === handlerId) {
        this.pending.splice(i, 1)[0]!.reject(new Error('Handler disconnected'));
      }
    }
  }

  /** A client went away: roll back what it left open, and let the others run. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.owner !== handlerId) return;
    // exec() takes PGlite's own locks, so it waits for a message still running.
    if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    this.owner = undefined;
    void this.pump();
  }

  private next(): Pending | undefined {
    const index =
      this.owner === undefined ? 0 : this.pending.findIndex((item) => item.handlerId === this.owner);
    return index < 0 ? undefined : this.pending.splice(index, 1)[0];
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let item = this.next(); item; item = this.next()) {
        this.owner = item.handlerId;
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item!.message, {
              onRawData: (data) => {
                bytes += data.length;
                item!.onData(data);
              },
            }),
          );
          item.resolve(bytes);
        } catch (error) {
          item.reject(error as Error);
        }
        if (endsCycle(item.message) && !this.db.isInTransaction()) this.owner = undefined;
      }
    } finally {
      this.running = false;
    }
  }
}

export interface PgliteSocketServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

/** Listens on 127.0.0.1 (a free port) and serves `db` to any number of connections. */
export async function servePglite(db: PGlite): Promise<PgliteSocketServer> {
  await db.waitReady;
  const scheduler = new ConnectionScheduler(db);
  const handlers = new Set<PGLiteSocketHandler>();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const handler = new PGLiteSocketHandler({
      queryQueue: scheduler as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    handlers.add(handler);
    const forget = () => handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    handler.attach(socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    host: '127.0.0.1',
    port,
    stop: async () => {
      await Promise.allSettled([...handlers].map((handler) => handler.detach(true)));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
