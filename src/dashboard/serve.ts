// The dashboard (web/, built by `npm run web:build` at install) on the same server at /: hashed
// assets cached for a year, index.html revalidated, and a strict Content-Security-Policy (no
// inline script, connections only to this origin). GraphiQL at /graphql is yoga's and keeps its own.
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import sirv from 'sirv';

export const DASHBOARD_DIR = path.resolve(import.meta.dirname, '../../web/dist');

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  // graphql-ws connects back to this origin ('self' covers ws: and wss: of it)
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function dashboardHandler(dir = DASHBOARD_DIR) {
  if (!existsSync(path.join(dir, 'index.html'))) {
    return (_req: IncomingMessage, res: ServerResponse) =>
      res.writeHead(503, { 'content-type': 'text/plain' }).end('The dashboard is not built: run `npm run web:build`.\n');
  }
  const options = {
    etag: true,
    gzip: false,
    setHeaders(res: ServerResponse, pathname: string) {
      res.setHeader('Cache-Control', pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
    },
  };
  const serve = sirv(dir, { ...options, single: true }); // any other path is a page of the app
  const serveAsset = sirv(dir, options);
  const notFound = (res: ServerResponse) => {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    // Pages are read, never posted to: anything else is not the dashboard's (e.g. a client that
    // forgot /graphql gets 405, not the app's HTML).
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method not allowed\n');
      return;
    }
    // A missing asset is a 404, not the app's index.html cached for a year.
    if (req.url?.startsWith('/assets/')) return void serveAsset(req, res, () => notFound(res));
    serve(req, res, () => notFound(res));
  };
}
