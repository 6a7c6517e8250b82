import { sharedRedis } from '@pipe/fixtures';
import { encodeReading, type HourlyAverage, HOUR_MS, PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { DashboardStatus } from '../src/server.js';
import {
  averageFor,
  averagesInRedis,
  FIRST_HOUR,
  writeAverage,
  writeHours,
  writeMalformed,
} from './averages-fixture.js';
import { headlessChromium, screenshot } from './chromium.js';
import { RunningDashboard } from './running-dashboard.js';
import { ownRedis } from './own-redis.js';

const { url: redisUrl, redis } = sharedRedis('viewer');

const { browser } = headlessChromium();

/**
 * What the page's Content-Security-Policy refused, from Chromium's console: the policy must allow all
 * the page does, so a refusal is a broken page (a script or style that did not load or run).
 */
function watchPolicy(page: Page): string[] {
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
  });
  return refused;
}

/** What the chart and the table show, read from the page. */
async function shown(page: Page) {
  return page.evaluate(() => {
    const chart = document.getElementById('chart')!;
    const table = document.getElementById('recent') as HTMLTableElement;
    const canvas = chart.querySelector('canvas');
    // Pixels of the average line's colour (#d9480f): an empty or undrawn chart has none.
    let linePixels = 0;
    if (canvas) {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
        if (r > 190 && g > 50 && g < 95 && b < 35 && a > 200) {
          linePixels++;
        }
      }
    }
    return {
      points: Number(chart.dataset.points),
      lastHour: Number(chart.dataset.lastHour),
      linePixels,
      rowLimit: Number(table.dataset.limit),
      rows: [...table.tBodies[0]!.rows].map((tr) => ({
        id: tr.dataset.id,
        cells: [...tr.cells].map((td) => td.textContent),
      })),
    };
  });
}

/** The table row the page must show for an average, formatted here independently of the page. */
function expectedRow(a: HourlyAverage) {
  const d = new Date(a.hourStart);
  const pad = (n: number) => String(n).padStart(2, '0');
  const f = (v: number | undefined) => (v === undefined ? '–' : `${v.toFixed(2)}°F`);
  return {
    id: `${a.hourStart}-0`,
    cells: [
      `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:00`,
      f(a.average_temp_f),
      f(a.min_temp_f),
      f(a.max_temp_f),
      String(a.num_observations),
      a.devices === undefined ? '–' : String(a.devices),
    ],
  };
}

/** The health panel as figures, read from the page's data attributes. */
async function healthPanel(page: Page) {
  return page.evaluate(() => {
    const figure = (name: string) => Number(document.querySelector(`[data-figure="${name}"]`)!.textContent);
    const partitions = [
      ...document.querySelectorAll<HTMLTableSectionElement>('#partitions tbody[data-partition]'),
    ];
    return {
      updated: Number(document.getElementById('health')!.dataset.updated),
      pipeline: {
        partitions: partitions.map((body) => ({
          key: body.dataset.partition,
          length: Number(body.dataset.length),
          groups: [...body.querySelectorAll<HTMLTableRowElement>('tr[data-group]')].map((tr) => ({
            name: tr.dataset.group,
            consumers: Number(tr.dataset.consumers),
            pending: Number(tr.dataset.pending),
            lag: tr.dataset.lag === 'null' ? null : Number(tr.dataset.lag),
          })),
        })),
        averages: figure('averages'),
        deadLetters: figure('deadLetters'),
        late: figure('late'),
        alerts: figure('alerts'),
        memory: [...document.querySelectorAll<HTMLTableRowElement>('#redis-memory tr[data-node]')].map(
          (tr) => ({
            node: tr.dataset.node,
            usedBytes: Number(tr.dataset.used),
            maxBytes: Number(tr.dataset.max),
            policy: tr.dataset.policy,
            evictedKeys: Number(tr.dataset.evicted),
          }),
        ),
      },
      malformedAverages: figure('malformedAverages'),
    };
  });
}

async function seedPipeline(keys: PipelineKeys): Promise<void> {
  const partition = keys.partitionKeyFor(FIRST_HOUR);
  for (let i = 0; i < 9; i++) {
    await redis.call(
      'XADD',
      partition,
      '*',
      ...encodeReading({ device: 'd1', ts: FIRST_HOUR + i, temp_f: 70 }),
    );
  }
  await redis.call('XGROUP', 'CREATE', partition, 'aggregators', '0');
  await redis.call('XREADGROUP', 'GROUP', 'aggregators', 'a1', 'COUNT', 4, 'STREAMS', partition, '>');
  await redis.call('XADD', keys.deadLetters, '*', 'reason', 'test');
  for (let i = 0; i < 2; i++) await redis.call('XADD', keys.late, '*', 'reason', 'test');
}

describe('dashboard in headless Chromium', () => {
  it('plots the averages in Redis, shows a new one within 2 s without a reload, and a health panel matching the API', async () => {
    const keys = new PipelineKeys(randomPrefix('page'));
    await writeHours(redis, keys, 30);
    await writeMalformed(redis, keys, FIRST_HOUR + 30 * HOUR_MS);
    await seedPipeline(keys);
    const inRedis = await averagesInRedis(redis, keys);
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix);
    const page = await browser().newPage({ viewport: { width: 1280, height: 900 } });
    const refused = watchPolicy(page);
    try {
      await page.goto(dashboard.base);
      await page.waitForFunction(
        (n) => Number(document.getElementById('chart')!.dataset.points) === n,
        inRedis.length,
        {
          timeout: 10_000,
        },
      );
      const first = await shown(page);
      expect(first.points).toBe(inRedis.length);
      expect(first.lastHour).toBe(inRedis.at(-1)!.hourStart);
      expect(first.linePixels).toBeGreaterThan(0);
      expect(first.rows).toEqual(inRedis.slice(-first.rowLimit).reverse().map(expectedRow));

      // A status poll made after the page loaded the averages (and so met the malformed one).
      const loadedAt = Date.now();
      await page.waitForFunction(
        (t) => Number(document.getElementById('health')!.dataset.updated) > t,
        loadedAt,
        {
          timeout: 5000,
        },
      );
      const panel = await healthPanel(page);
      const api = (await dashboard.json<DashboardStatus>('/api/status')).body;
      expect(panel.pipeline).toEqual({
        ...api.pipeline!,
        partitions: api.pipeline!.partitions.map(({ key, length, groups }) => ({
          key,
          length,
          groups: groups.map(({ name, consumers, pending, lag }) => ({ name, consumers, pending, lag })),
        })),
        // Memory moves between the page's poll and this one; the rest of each row must not.
        memory: api.pipeline!.memory.map((m) => ({ ...m, usedBytes: expect.any(Number) })),
      });
      expect(panel.pipeline.memory[0]!.usedBytes).toBeGreaterThan(0);
      expect(panel.pipeline.partitions).toHaveLength(1);
      expect(panel.malformedAverages).toBe(api.viewer.malformedAverages);
      expect(panel.malformedAverages).toBe(1);
      expect(await page.locator('#banner').isHidden()).toBe(true);

      // The same document must show it: no reload, no navigation.
      await page.evaluate(() => {
        (window as unknown as { sameDocument: boolean }).sameDocument = true;
      });
      const next = averageFor(FIRST_HOUR + 31 * HOUR_MS);
      const writtenAt = Date.now();
      await writeAverage(redis, keys, next);
      await page.waitForFunction(
        (id) => document.querySelector('#recent tbody tr')?.getAttribute('data-id') === id,
        `${next.hourStart}-0`,
        { timeout: 2000 },
      );
      const after = await shown(page);
      expect(Date.now() - writtenAt).toBeLessThan(2000);
      expect(after.points).toBe(inRedis.length + 1);
      expect(after.lastHour).toBe(next.hourStart);
      expect(after.rows[0]).toEqual(expectedRow(next));
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(
        true,
      );

      await screenshot(page, 'dashboard');
      expect(refused).toEqual([]);
    } finally {
      await page.close();
      await dashboard.stop();
    }
  });

  it('shows a banner while Redis is down and recovers without a reload', async () => {
    const { server, client: own, stop: stopOwnRedis } = await ownRedis();
    const keys = new PipelineKeys(randomPrefix('page'));
    await writeAverage(own, keys, averageFor(FIRST_HOUR));
    const dashboard = await RunningDashboard.start(server.url, keys.prefix);
    const page = await browser().newPage();
    try {
      await page.goto(dashboard.base);
      await page.waitForFunction(() => document.getElementById('chart')!.dataset.points === '1');
      expect(await page.locator('#banner').isHidden()).toBe(true);

      const restarted = server.restart({ downMs: 3000 });
      await page.locator('#banner').waitFor({ state: 'visible', timeout: 2500 });
      expect(await page.locator('#banner').textContent()).toContain('Redis unavailable');
      await restarted;
      await page.locator('#banner').waitFor({ state: 'hidden', timeout: 10_000 });

      const next = averageFor(FIRST_HOUR + HOUR_MS);
      await writeAverage(own, keys, next);
      await page.waitForFunction(
        (id) => document.querySelector('#recent tbody tr')?.getAttribute('data-id') === id,
        `${next.hourStart}-0`,
        { timeout: 5000 },
      );
      expect((await shown(page)).points).toBe(2);
    } finally {
      await page.close();
      await dashboard.stop();
      await stopOwnRedis();
    }
  });
});
