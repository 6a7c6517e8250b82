import { sharedRedis } from '@pipe/fixtures';
import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { deviceReadings, publishDeviceWindows, writeDeviceWindow } from './device-fixture.js';
import { headlessChromium, screenshot } from './chromium.js';
import { RunningDashboard } from './running-dashboard.js';

// The per-device panel of the page (public/devices.js) in headless Chromium, as dashboard.browser.test.ts
// drives the rest of the page.

const DEVICES = ['sensor-1', 'Sensor-2', 'lab:fridge.3'];

const { url: redisUrl, redis } = sharedRedis('viewer');

const { browser } = headlessChromium();

/** What the device panel shows: the chart's figures, its line pixels, the picker, the table. */
async function panel(page: Page) {
  return page.evaluate(() => {
    const chart = document.getElementById('device-chart')!;
    const canvas = chart.querySelector('canvas');
    // Pixels of the device mean's colour (#d9480f) and the fleet mean's (#2b8a3e).
    let device = 0;
    let fleet = 0;
    if (canvas) {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
        if (a < 200) continue;
        if (r > 190 && g > 50 && g < 95 && b < 35) device++;
        if (r < 70 && g > 115 && g < 160 && b > 40 && b < 85) fleet++;
      }
    }
    return {
      device: chart.dataset.device,
      resolution: chart.dataset.resolution,
      points: Number(chart.dataset.points),
      fleetPoints: Number(chart.dataset.fleetPoints),
      lastStart: Number(chart.dataset.lastStart),
      pixels: { device, fleet },
      options: [...(document.getElementById('device-select') as HTMLSelectElement).options].map(
        (o) => o.value,
      ),
      rows: [...(document.getElementById('devices') as HTMLTableElement).tBodies[0]!.rows].map((tr) => [
        ...[...tr.cells].map((td) => td.textContent),
      ]),
    };
  });
}

describe('device panel in headless Chromium', () => {
  it("lists devices, finds one by a search in any case, charts it at 1m with its band beside the fleet's mean, and adds a new window live", async () => {
    const keys = new PipelineKeys(randomPrefix('dpage'));
    const tally = await publishDeviceWindows(redis, keys, deviceReadings(DEVICES, 40));
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix, { devicePollMs: 250 });
    const page = await browser().newPage({ viewport: { width: 1280, height: 1400 } });
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
    });
    try {
      await page.goto(dashboard.base);
      await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 3, null, {
        timeout: 10_000,
      });
      // The table, formatted here from the expected windows: most recently seen first.
      const pad = (n: number) => String(n).padStart(2, '0');
      const at = (ms: number) => {
        const d = new Date(ms);
        return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
      };
      const f = (v: number) => `${v.toFixed(2)}°F`;
      const expectedRows = DEVICES.map((device) => {
        const hours = tally.expectedOfDevice(device, '1h');
        const h = hours.at(-1)!;
        const last = Math.max(...hours.map((w) => w.lastTs));
        return { last, cells: [device, at(last), at(h.start), f(h.mean), f(h.stddev), f(h.min), f(h.max)] };
      })
        .sort((a, b) => b.last - a.last)
        .map((r) => r.cells);
      expect((await panel(page)).rows).toEqual(expectedRows);

      // The picker starts on the device seen last.
      await page.waitForFunction(
        (d) => document.getElementById('device-chart')!.dataset.device === d,
        expectedRows[0]![0],
        {
          timeout: 10_000,
        },
      );
      await page.fill('#device-search', 'SENSOR-2');
      await page.waitForFunction(
        () =>
          document.getElementById('device-chart')!.dataset.device === 'Sensor-2' &&
          (document.getElementById('device-select') as HTMLSelectElement).options.length === 1,
        null,
        { timeout: 10_000 },
      );
      expect((await panel(page)).options).toEqual(['Sensor-2']);

      await page.selectOption('#device-resolution', '1m');
      await page.waitForFunction(
        () => document.getElementById('device-chart')!.dataset.resolution === '1m',
        null,
        {
          timeout: 10_000,
        },
      );
      const minutes = tally.expectedOfDevice('Sensor-2', '1m');
      const shown = await panel(page);
      expect(shown).toMatchObject({
        points: minutes.length,
        fleetPoints: tally.expected('1m').length,
        lastStart: minutes.at(-1)!.start,
      });
      expect(shown.pixels.device).toBeGreaterThan(0);
      expect(shown.pixels.fleet).toBeGreaterThan(0);

      const last = minutes.at(-1)!;
      const next = {
        ...last,
        start: last.start + 60_000,
        firstTs: last.firstTs + 60_000,
        lastTs: last.lastTs + 60_000,
      };
      const writtenAt = Date.now();
      await writeDeviceWindow(redis, keys, 'Sensor-2', '1m', next);
      await page.waitForFunction(
        (n) => Number(document.getElementById('device-chart')!.dataset.points) === n,
        minutes.length + 1,
        {
          timeout: 5000,
        },
      );
      expect(Date.now() - writtenAt).toBeLessThan(2000);
      expect((await panel(page)).lastStart).toBe(next.start);

      // A click on a row of the table charts that device.
      await page.click('#devices tbody tr[data-device="sensor-1"]');
      await page.waitForFunction(
        () => document.getElementById('device-chart')!.dataset.device === 'sensor-1',
        null,
        {
          timeout: 10_000,
        },
      );
      expect((await panel(page)).points).toBe(tally.expectedOfDevice('sensor-1', '1m').length);

      await screenshot(page, 'devices');
      expect(refused).toEqual([]);
    } finally {
      await page.close();
      await dashboard.stop();
    }
  });
});
