import { createCaChatClient, localStorageTokenStore } from '@ca-chat/transport-ws/client';
import { startApp } from './app.js';
import { fetchServerInfo, mergeServerInfo, readPageConfig, withSlash } from './config.js';
import { findElements } from './view.js';

/** Boots the page: settings from the page (and the server, if it says), then the SDK. */
async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('the page lacks #app');
  let config = readPageConfig(root, window.location.origin);
  const infoUrl = root.dataset.infoUrl ?? 'info';
  if (infoUrl !== '')
    config = mergeServerInfo(
      config,
      await fetchServerInfo(fetch, new URL(infoUrl, withSlash(config.serverUrl)).toString()),
    );

  const wsUrl = new URL('ws', withSlash(config.serverUrl));
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  const client = createCaChatClient({
    url: wsUrl.toString(),
    tokenStore: localStorageTokenStore(config.tokenKey),
    reconnect: { initialDelayMs: 300, maxDelayMs: 10_000 },
  });
  const app = startApp({ client, elements: findElements(document), config });
  // For browser tests and curious developers: the page's state, read only.
  (window as unknown as { caChat?: unknown }).caChat = { client, getState: app.getState };
}

void main();
