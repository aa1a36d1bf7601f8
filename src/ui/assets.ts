import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';

/**
 * The page's static files, read once at start-up and served from memory, gzipped for clients that
 * take it: htmx and its SSE extension straight from node_modules (no CDN: ops networks are often
 * air-gapped), and the page's own script and style sheet from src/ui/assets. No build step: what
 * `npm ci` installs is what the browser gets.
 */
interface Asset {
  type: string;
  raw: Buffer;
  gzip: Buffer;
}

const root = (relative: string) => fileURLToPath(new URL(`../../${relative}`, import.meta.url));

export const ASSET_FILES: Record<string, { file: string; type: string }> = {
  'htmx.min.js': { file: root('node_modules/htmx.org/dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
  'sse.js': { file: root('node_modules/htmx-ext-sse/dist/sse.min.js'), type: 'text/javascript; charset=utf-8' },
  'app.js': { file: root('src/ui/assets/app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { file: root('src/ui/assets/app.css'), type: 'text/css; charset=utf-8' },
};

export function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, { file, type }] of Object.entries(ASSET_FILES)) {
    const raw = readFileSync(file);
    assets.set(name, { type, raw, gzip: gzipSync(raw, { level: 9 }) });
  }
  return assets;
}

/** Gzipped bytes of the page's JavaScript: the budget is 60 KB. */
export function javascriptBytes(assets: Map<string, Asset>): number {
  return [...assets.entries()].filter(([name]) => name.endsWith('.js')).reduce((sum, [, asset]) => sum + asset.gzip.length, 0);
}

export function serveAsset(assets: Map<string, Asset>) {
  return (req: Request, res: Response): void => {
    const asset = assets.get(String(req.params.name));
    if (!asset) {
      res.status(404).type('text/plain').send('no such asset');
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.setHeader('Content-Type', asset.type);
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.end(gzip ? asset.gzip : asset.raw);
  };
}
