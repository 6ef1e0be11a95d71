// A TCP proxy in front of a real server, for tests of what a slow or vanished database does to a
// client: it can add latency to what the server sends back, refuse new connections and cut
// the open ones, or listen only later (a port where nothing answers yet).
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Milliseconds added to every chunk the upstream sends back, from now on. */
  delayMs: number;
  /** Starts accepting (the port is chosen at creation). */
  listen(): Promise<void>;
  /** Cuts every open connection (new ones are still accepted). */
  cut(): void;
  close(): Promise<void>;
}

export async function createTcpProxy(upstreamPort: number, options: { listen?: boolean; port?: number } = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const proxy: TcpProxy = {
    port: options.port ?? 0,
    delayMs: 0,
    async listen() {
      server = createServer((client) => {
        const upstream = createConnection({ host: '127.0.0.1', port: upstreamPort });
        sockets.add(client).add(upstream);
        client.on('close', () => sockets.delete(client));
        upstream.on('close', () => sockets.delete(upstream));
        client.on('data', (chunk) => upstream.write(chunk));
        upstream.on('data', (chunk) => {
          if (proxy.delayMs > 0) setTimeout(() => client.writable && client.write(chunk), proxy.delayMs);
          else client.write(chunk);
        });
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      await new Promise<void>((resolve) => server!.listen(proxy.port, '127.0.0.1', () => resolve()));
      proxy.port = (server!.address() as { port: number }).port;
    },
    cut() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      proxy.cut();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
  if (options.listen !== false) await proxy.listen();
  return proxy;
}
