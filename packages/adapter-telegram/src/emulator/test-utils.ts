// Helpers for this folder's tests (not exported from the package).
import type { TgResponse } from './bot-api-types.js';

export interface ApiAnswer<T = unknown> {
  status: number;
  body: TgResponse<T> & { description?: string };
}

/** Calls a Bot API method with a JSON body, the way most clients do. */
export async function callApi<T = unknown>(
  url: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
  init: { signal?: AbortSignal } = {},
): Promise<ApiAnswer<T>> {
  const response = await fetch(`${url}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
    ...init,
  });
  return { status: response.status, body: (await response.json()) as ApiAnswer<T>['body'] };
}

/** The result of a call that must succeed. */
export async function ok<T = unknown>(
  url: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
): Promise<T> {
  const answer = await callApi<T>(url, token, method, params);
  if (!answer.body.ok) {
    throw new Error(`${method} failed: ${answer.status} ${answer.body.description}`);
  }
  return answer.body.result;
}

/** A 1x1 PNG. */
export const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** A promise with its resolve function, for waiting on callbacks without sleeping. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Whether a long poll of this bot is being held, probed the way a second instance would
 * notice: a short getUpdates (which confirms nothing) gets 409.
 */
export async function isPollHeld(url: string, token: string): Promise<boolean> {
  const answer = await callApi(url, token, 'getUpdates', { timeout: 0, limit: 1 });
  return answer.status === 409;
}

/** Re-checks `condition` on each turn of the event loop (no fixed sleeps). */
export async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition never became true');
}
