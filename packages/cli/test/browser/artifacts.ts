import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';

/**
 * Full-page screenshots of each step of a browser test, numbered in order, plus how long
 * each step took since the scenario started (written as `timings.json` beside them).
 */
export interface StepShots {
  /** Saves `NN-name.png` of `page`; returns its path. */
  shot(page: Page, name: string): Promise<string>;
  /** Records an elapsed-time mark without a screenshot. */
  mark(name: string): void;
  /** Copies a saved screenshot somewhere else (e.g. the docs). */
  publish(shotPath: string, to: string): Promise<void>;
  writeTimings(): Promise<void>;
}

export async function createStepShots(dir: string): Promise<StepShots> {
  await mkdir(dir, { recursive: true });
  const startedAt = Date.now();
  const marks: Array<{ step: string; elapsedMs: number }> = [];
  let count = 0;
  return {
    async shot(page, name) {
      count++;
      const file = join(dir, `${String(count).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      marks.push({ step: name, elapsedMs: Date.now() - startedAt });
      return file;
    },
    mark(name) {
      marks.push({ step: name, elapsedMs: Date.now() - startedAt });
    },
    async publish(shotPath, to) {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(shotPath, to);
    },
    async writeTimings() {
      await writeFile(join(dir, 'timings.json'), JSON.stringify(marks, null, 2) + '\n');
    },
  };
}
