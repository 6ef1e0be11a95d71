// GraphiQL, offline (SPEC §3) and light. @graphql-yoga/render-graphiql inlines its whole bundle
// (script, styles, three Monaco workers, an icon: 9 MB) into every page it renders; here the page
// is a few hundred bytes that loads those parts as separate assets, named by their content hash,
// cached for a year (immutable) and sent compressed (brotli or gzip, compressed once, on first use).
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, gzip, constants as zlib } from 'node:zlib';
import escapeHtml from 'escape-html';

export const GRAPHIQL_ASSETS_PATH = '/graphiql/assets/';

type Encoding = 'br' | 'gzip';
const compressors: Record<Encoding, (body: Buffer) => Promise<Buffer>> = {
  // Quality 6 of 11: within 3% of quality 9 in a third of the time (measured on the 5 MB bundle).
  br: (body) => promisify(brotliCompress)(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 6 } }),
  gzip: (body) => promisify(gzip)(body, { level: 6 }),
};

interface Asset {
  body: Buffer;
  type: string;
  compressed: Partial<Record<Encoding, Promise<Buffer>>>;
}

const assets = new Map<string, Asset>();

/** Registers an asset under a name that changes with its content; returns its URL path. */
function publish(stem: string, extension: string, type: string, body: Buffer): string {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const name = `${stem}.${hash}.${extension}`;
  if (!assets.has(name)) assets.set(name, { body, type, compressed: {} });
  return GRAPHIQL_ASSETS_PATH + name;
}

type Bundle = { script: string; styles: string; icon: string; workers: Record<string, string> };
let bundle: Promise<Bundle> | undefined;

function compressed(asset: Asset, encoding: Encoding): Promise<Buffer> {
  return (asset.compressed[encoding] ??= compressors[encoding](asset.body));
}

// Loaded on the first GraphiQL request, not at start: its 9 MB of source cost ~80 ms of every
// start and tens of MB of memory in servers nobody opens GraphiQL on.
function publishBundle(): Promise<Bundle> {
  bundle ??= import('@graphql-yoga/render-graphiql/graphiql').then(publishParts);
  return bundle;
}

function publishParts({
  css,
  editorWorkerService,
  favicon,
  graphqlWorker,
  js,
  jsonWorker,
}: typeof import('@graphql-yoga/render-graphiql/graphiql')): Bundle {
  const published = {
    script: publish('graphiql', 'js', 'text/javascript; charset=utf-8', Buffer.from(js)),
    styles: publish('graphiql', 'css', 'text/css; charset=utf-8', Buffer.from(css)),
    icon: publish('favicon', 'ico', 'image/x-icon', Buffer.from(favicon.slice(favicon.indexOf(',') + 1), 'base64')),
    workers: {
      editorWorkerService: publish('editor.worker', 'js', 'text/javascript; charset=utf-8', Buffer.from(editorWorkerService)),
      json: publish('json.worker', 'js', 'text/javascript; charset=utf-8', Buffer.from(jsonWorker)),
      graphql: publish('graphql.worker', 'js', 'text/javascript; charset=utf-8', Buffer.from(graphqlWorker)),
    },
  };
  // Compressed off the event loop (zlib's thread pool), ahead of the first page's requests.
  for (const asset of assets.values()) for (const encoding of ['br', 'gzip'] as const) void compressed(asset, encoding);
  return published;
}

/** yoga's `renderGraphiQL`: the page, with its options in a start script of their own (no inline script). */
export async function renderGraphiQL(options: Record<string, unknown> & { title?: string }): Promise<string> {
  const { script, styles, icon, workers } = await publishBundle();
  const start = publish(
    'start',
    'js',
    'text/javascript; charset=utf-8',
    Buffer.from(
      `self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_id, label) => (${JSON.stringify(workers)})[label] };\n` +
        `YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), ${JSON.stringify(options)});\n`,
    ),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>${escapeHtml(options.title ?? 'GraphiQL')}</title>
<link rel="icon" href="${icon}" />
<link rel="stylesheet" href="${styles}" />
</head>
<body id="body" class="no-focus-outline">
<noscript>You need to enable JavaScript to run GraphiQL.</noscript>
<div id="root"></div>
<script src="${script}"></script>
<script src="${start}"></script>
</body>
</html>
`;
}

function preferredEncoding(header: string | undefined): Encoding | null {
  const accepted = new Map<string, number>();
  for (const part of (header ?? '').toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    accepted.set(name!, q ? Number(q.slice(2)) || 0 : 1);
  }
  if ((accepted.get('br') ?? 0) > 0) return 'br';
  if ((accepted.get('gzip') ?? 0) > 0) return 'gzip';
  return null;
}

/** GET /graphiql/assets/<name>.<hash>.<ext>; answers 404 for any name it did not publish. */
export async function serveGraphiQLAsset(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method not allowed\n');
    return;
  }
  await publishBundle();
  const asset = assets.get(pathname.slice(GRAPHIQL_ASSETS_PATH.length));
  if (!asset) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    return;
  }
  const encoding = preferredEncoding(req.headers['accept-encoding']);
  let body = asset.body;
  if (encoding) {
    body = await compressed(asset, encoding);
  }
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': body.length,
    'cache-control': 'public, max-age=31536000, immutable',
    vary: 'Accept-Encoding',
    'x-content-type-options': 'nosniff',
    ...(encoding ? { 'content-encoding': encoding } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
