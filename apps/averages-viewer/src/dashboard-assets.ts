import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Asset {
  contentType: string;
  body: Buffer;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The page's own files, in the package (next to dist/ and src/, so both run from them). */
const PAGE_FILES = ['index.html', 'dashboard.js', 'devices.js', 'alerts.js', 'dashboard.css'];

/** The chart library, served from node_modules: the dashboard works offline, no CDN. */
const UPLOT_FILES = {
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/**
 * Reads every file the dashboard serves, once at startup, into URL path → content. A missing file
 * (an incomplete install) fails the start instead of a page that half works.
 */
export async function loadDashboardAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  const publicDir = new URL('../public/', import.meta.url);
  for (const name of PAGE_FILES) {
    assets.set(`/${name}`, await load(fileURLToPath(new URL(name, publicDir))));
  }
  const require = createRequire(import.meta.url);
  for (const [name, specifier] of Object.entries(UPLOT_FILES)) {
    assets.set(`/vendor/${name}`, await load(require.resolve(specifier)));
  }
  assets.set('/', assets.get('/index.html')!);
  return assets;
}

async function load(path: string): Promise<Asset> {
  const extension = path.slice(path.lastIndexOf('.'));
  return { contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream', body: await readFile(path) };
}
