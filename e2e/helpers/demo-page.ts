/** Driving the demo page from Playwright: load a model, attach files, ask, and watch the answer stream in. */
import type { Page } from 'playwright-core';

/** Generous: SwiftShader WebGPU compiles every shader on the CPU, and the machine is shared. */
export const PAGE_TIMEOUT_MS = 240_000;

/** What one answer looked like from outside. */
export interface ObservedAnswer {
  text: string;
  /** Length of the answer's text at each DOM change, in order: growth shows it streamed. */
  lengths: number[];
  /** The line under the answer (`TTFT … · … tok/s · … tokens`). */
  meta: string;
}

/** Waits for the backend badge and returns its name. */
export async function backendOf(page: Page): Promise<string> {
  await page.waitForSelector('#backend[data-backend]', { timeout: PAGE_TIMEOUT_MS });
  return (await page.getAttribute('#backend', 'data-backend')) ?? '';
}

/** Waits until a model is loaded (or a load error notice appears, which then fails with its text). */
export async function waitForModel(page: Page): Promise<void> {
  const which = await Promise.race([
    page.waitForSelector('body[data-model="ready"]', { timeout: PAGE_TIMEOUT_MS }).then(() => 'ready'),
    page.waitForSelector('.notice-error[data-id="load"]', { timeout: PAGE_TIMEOUT_MS }).then(() => 'error'),
  ]);
  if (which === 'error') throw new Error(`model load failed: ${await page.textContent('.notice-error[data-id="load"]')}`);
}

/** Attaches a file through the composer's file input. */
export async function attach(page: Page, name: string, mimeType: string, buffer: Buffer): Promise<void> {
  await page.setInputFiles('#attach-input', { name, mimeType, buffer });
}

/**
 * Types `question`, sends it, and records the newest assistant message's text length on every DOM mutation
 * until it is done. Throws with the page's error notice if the send fails.
 */
export async function ask(page: Page, question: string): Promise<ObservedAnswer> {
  const before = await page.locator('.msg-assistant').count();
  await page.evaluate(() => {
    const w = window as unknown as { __lengths: number[] };
    w.__lengths = [];
    const chat = document.getElementById('chat')!;
    new MutationObserver(() => {
      const last = [...chat.querySelectorAll('.msg-assistant .msg-text')].pop();
      if (last) w.__lengths.push(last.textContent?.length ?? 0);
    }).observe(chat, { subtree: true, childList: true, characterData: true });
  });
  await page.fill('#prompt', question);
  await page.click('#send');
  const done = page.locator('.msg-assistant').nth(before);
  const which = await Promise.race([
    done.and(page.locator('[data-state="done"]')).waitFor({ timeout: PAGE_TIMEOUT_MS }).then(() => 'done'),
    page.waitForSelector('.notice-error[data-id="send"]', { timeout: PAGE_TIMEOUT_MS }).then(() => 'error'),
  ]);
  if (which === 'error') throw new Error(`send failed: ${await page.textContent('.notice-error[data-id="send"]')}`);
  return {
    text: (await done.locator('.msg-text').textContent()) ?? '',
    lengths: await page.evaluate(() => (window as unknown as { __lengths: number[] }).__lengths),
    meta: (await done.locator('.msg-meta').textContent()) ?? '',
  };
}

/** Distinct non-zero lengths seen, in order: at least two means the text grew while streaming. */
export function growthSteps(lengths: readonly number[]): number[] {
  return [...new Set(lengths.filter((n) => n > 0))];
}
