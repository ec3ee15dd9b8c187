import { DEFAULT_LANGUAGES, DEFAULT_TOPICS } from './labels.js';

/** What the page needs to know about the server it talks to. */
export interface PageConfig {
  /** Base URL of the ca-chat server (HTTP routes and `/ws`). Default: the page's origin. */
  serverUrl: string;
  languages: string[];
  topics: string[];
  /** Files above this are refused before any byte is sent. */
  maxFileBytes: number;
  maxTextLength: number;
  /** localStorage key of the client token. */
  tokenKey: string;
}

const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;
const DEFAULT_MAX_TEXT_LENGTH = 8000;
const TAG = /^[a-z]{2,3}$/;

/**
 * Reads the operator's settings from the page (`data-*` on the `#app` element), so the
 * same bundle serves any deployment:
 * `data-server-url`, `data-languages="en,hi"`, `data-topics="gst,audit"`,
 * `data-max-file-bytes`, `data-max-text-length`, `data-token-key`.
 */
export function readPageConfig(root: HTMLElement, origin: string): PageConfig {
  const data = root.dataset;
  return {
    serverUrl: (data.serverUrl && data.serverUrl.trim()) || origin,
    languages: list(data.languages, DEFAULT_LANGUAGES).filter((l) => TAG.test(l)),
    topics: list(data.topics, DEFAULT_TOPICS),
    maxFileBytes: positive(data.maxFileBytes, DEFAULT_MAX_FILE_BYTES),
    maxTextLength: positive(data.maxTextLength, DEFAULT_MAX_TEXT_LENGTH),
    tokenKey: data.tokenKey || 'ca-chat.token',
  };
}

/** What a server may say about itself (`GET <server>/info` by default); every field optional. */
export interface ServerInfo {
  languages?: unknown;
  topics?: unknown;
  maxFileBytes?: unknown;
  maxTextLength?: unknown;
}

/**
 * Merges what the server says it offers over the page's settings. Unknown or malformed
 * fields are ignored, so an older server (without the route) leaves the page's defaults.
 */
export function mergeServerInfo(config: PageConfig, info: ServerInfo | null): PageConfig {
  if (!info || typeof info !== 'object') return config;
  const strings = (value: unknown): string[] | null =>
    Array.isArray(value) && value.every((v) => typeof v === 'string') && value.length > 0
      ? (value as string[])
      : null;
  const number = (value: unknown): number | null =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
  return {
    ...config,
    languages: strings(info.languages)?.filter((l) => TAG.test(l)) ?? config.languages,
    topics: strings(info.topics) ?? config.topics,
    maxFileBytes: number(info.maxFileBytes) ?? config.maxFileBytes,
    maxTextLength: number(info.maxTextLength) ?? config.maxTextLength,
  };
}

/** Asks the server for its offer; null (never a throw) when it has no such route or is slow. */
export async function fetchServerInfo(
  fetchFn: typeof fetch,
  infoUrl: string,
  timeoutMs = 3000,
): Promise<ServerInfo | null> {
  try {
    const res = await fetchFn(infoUrl, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return null;
    return (await res.json()) as ServerInfo;
  } catch {
    return null;
  }
}

export function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function list(value: string | undefined, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  const items = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  return items.length > 0 ? items : fallback;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) && n > 0 ? n : fallback;
}
