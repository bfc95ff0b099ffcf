import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'segserve-report-'));
const report = join(dir, 'model.report.html');

beforeAll(async () => {
  const data = join(dir, 'customers.csv');
  expect((await runCli(['simulate', '--rows', '2000', '--out', data])).code).toBe(0);
  const r = await runCli([
    'train',
    '--data',
    data,
    '--out',
    join(dir, 'model.json'),
    '--n-iter',
    '6',
    '--json',
  ]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ report });
});

describe('training report', () => {
  it('is one self-contained file: no script, no stylesheet or image fetched from anywhere', () => {
    const html = readFileSync(report, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)=["']?https?:/i);
    expect(html.match(/<svg/g)).toHaveLength(4);
    expect(html).toContain('Top candidates');
  });

  describe.skipIf(!haveChromium)('in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('draws every chart with marks and logs no errors, offline', async () => {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) problems.push(`network request to ${req.url()}`);
      });
      await page.goto(pathToFileURL(report).href);
      for (const id of ['candidates', 'confusion', 'importances', 'balance']) {
        const chart = page.locator(`#chart-${id} svg`);
        await expect(chart.count()).resolves.toBe(1);
        const marks = await page.locator(`#chart-${id} svg g[class*="role-mark"] > *`).count();
        expect(marks, `${id} chart marks`).toBeGreaterThan(2);
        const box = await chart.boundingBox();
        expect(box?.width).toBeGreaterThan(100);
        expect(box?.height).toBeGreaterThan(100);
      }
      // one cell per class pair in the heatmap
      expect(await page.locator('#chart-confusion g.mark-rect path').count()).toBe(9);
      await expect(page.locator('#test-accuracy').textContent()).resolves.toMatch(/^\d+\.\d\d% on 800 rows$/);
      expect(problems).toEqual([]);
    });
  });
});
