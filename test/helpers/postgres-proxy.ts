/**
 * A TCP proxy in front of PostgreSQL that a test can cut: every open connection dropped and new ones
 * refused, as when the database host goes away, then restored. It can also cut the moment a client
 * sends a statement containing some text, to break a transaction half-way (no TLS on loopback, so
 * the SQL is readable on the wire).
 */
import net from 'node:net';

export interface PostgresProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  /** Drops every connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  /** Cuts (as cut()) when a client next sends `text`, before PostgreSQL sees that message. */
  cutOnStatement(text: string): Promise<void>;
  /** Connections accepted so far (to know the server really reconnected). */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startPostgresProxy(options: { port: number; target?: { host: string; port: number } }): Promise<PostgresProxy> {
  const target = options.target ?? { host: '127.0.0.1', port: 5432 };
  const sockets = new Set<net.Socket>();
  let open = true;
  let accepted = 0;
  let trigger: { text: Buffer; fired: () => void } | undefined;

  function dropAll(): void {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  }

  function cut(): void {
    open = false;
    dropAll();
  }

  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    accepted += 1;
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget);
    upstream.on('error', forget);
    client.on('close', forget);
    upstream.on('close', forget);
    client.on('data', (chunk: Buffer) => {
      if (trigger && chunk.includes(trigger.text)) {
        const { fired } = trigger;
        trigger = undefined;
        cut();
        fired();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });

  return {
    port: options.port,
    get accepted() {
      return accepted;
    },
    via(url: string): string {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(options.port);
      return parsed.toString();
    },
    cut,
    restore() {
      open = true;
    },
    cutOnStatement(text: string): Promise<void> {
      return new Promise((resolve) => {
        trigger = { text: Buffer.from(text), fired: resolve };
      });
    },
    async close() {
      open = false;
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
