import { sharedRedis } from '@pipe/fixtures';
import { PipelineKeys } from '@pipe/streams';
import { randomPrefix } from '@pipe/testkit';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { warm, writeTransition } from './alert-fixture.js';
import { headlessChromium, screenshot } from './chromium.js';
import { RunningDashboard } from './running-dashboard.js';

// The alerts panel of the page (public/alerts.js) in headless Chromium, as dashboard.browser.test.ts
// drives the rest of the page: transitions written as pipe-alerter writes them reach it live.

const { url: redisUrl, redis } = sharedRedis('viewer');

const { browser } = headlessChromium();

/** The rows of the active list and of the transitions, cell texts. */
function panel(page: Page) {
  return page.evaluate(() => {
    const rows = (id: string) =>
      [...(document.getElementById(id) as HTMLTableElement).tBodies[0]!.rows].map((tr) =>
        [...tr.cells].map((td) => td.textContent),
      );
    return {
      active: rows('active-alerts'),
      transitions: rows('alert-transitions'),
      empty: document.getElementById('alerts-empty')!.hidden === false,
    };
  });
}

function waitForPanel(page: Page, active: number, recent: number): Promise<unknown> {
  return page.waitForFunction(
    ([a, r]) => {
      const { dataset } = document.getElementById('alerts-panel')!;
      return Number(dataset.active) === a && Number(dataset.recent) === r;
    },
    [active, recent],
    { timeout: 5000 },
  );
}

describe('alerts panel in headless Chromium', () => {
  it('shows an alert when it fires and drops it from the active list when it resolves, without reloading', async () => {
    const keys = new PipelineKeys(randomPrefix('apage'));
    await writeTransition(redis, keys, warm('freezer-0', 'firing', 1500, '11'));
    const dashboard = await RunningDashboard.start(redisUrl, keys.prefix, { alertsPollMs: 100 });
    const page = await browser().newPage({ viewport: { width: 1280, height: 1400 } });
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
    });
    try {
      await page.goto(dashboard.base);
      await waitForPanel(page, 1, 1);
      const since = '1970/01/01 00:00:01';
      expect((await panel(page)).active).toEqual([['freezer-warm', 'freezer-0', since, '11']]);
      // A reload would drop this mark: the panel must change without one.
      await page.evaluate(() => Object.assign(window, { notReloaded: true }));

      const firedAt = Date.now();
      await writeTransition(redis, keys, warm('freezer-1', 'firing', 2000, '12.5'));
      await waitForPanel(page, 2, 2);
      expect(Date.now() - firedAt).toBeLessThan(2000);
      expect((await panel(page)).active).toEqual([
        ['freezer-warm', 'freezer-0', since, '11'],
        ['freezer-warm', 'freezer-1', since, '12.5'],
      ]);

      await writeTransition(redis, keys, warm('freezer-0', 'resolved', 3000, '7.5'));
      await waitForPanel(page, 1, 3);
      const shown = await panel(page);
      expect(shown.active).toEqual([['freezer-warm', 'freezer-1', since, '12.5']]);
      expect(
        shown.transitions.map(([, rule, device, state, , value]) => [rule, device, state, value]),
      ).toEqual([
        ['freezer-warm', 'freezer-0', 'resolved', '7.5'],
        ['freezer-warm', 'freezer-1', 'firing', '12.5'],
        ['freezer-warm', 'freezer-0', 'firing', '11'],
      ]);

      await writeTransition(redis, keys, warm('freezer-1', 'resolved', 4000, '8'));
      await waitForPanel(page, 0, 4);
      expect((await panel(page)).empty).toBe(true);
      expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
        true,
      );

      await screenshot(page, 'alerts');
      expect(refused).toEqual([]);
    } finally {
      await page.close();
      await dashboard.stop();
    }
  });
});
