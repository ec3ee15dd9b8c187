import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { RelayApi } from '@ca-chat/core';

export interface ServeMetrics {
  registry: Registry;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  contentType: string;
  telegram429: Counter;
  uploadBytes: Counter<'from'>;
}

/**
 * The metrics `GET /metrics` exposes. Gauges that mirror stored state (chats waiting or
 * active, open offers) are read from storage when scraped, so they survive restarts.
 */
export function createMetrics(
  relay: RelayApi,
  options: { telegram429Count?: () => number } = {},
): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ca_chat_process_' });

  let clientsConnected = 0;
  new Gauge({
    name: 'ca_chat_clients_connected',
    help: 'Clients with at least one live connection',
    registers: [registry],
    collect() {
      this.set(clientsConnected);
    },
  });
  relay.on('client.connected', () => void clientsConnected++);
  relay.on(
    'client.disconnected',
    () => void (clientsConnected = Math.max(0, clientsConnected - 1)),
  );

  new Gauge({
    name: 'ca_chat_chats',
    help: 'Chats by state (waiting, active)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.set({ state: 'waiting' }, await relay.storage.countChats({ state: 'waiting' }));
      this.set({ state: 'active' }, await relay.storage.countChats({ state: 'active' }));
    },
  });
  new Gauge({
    name: 'ca_chat_offers_open',
    help: 'Chat offers sent to CAs and not yet accepted, declined or withdrawn',
    registers: [registry],
    async collect() {
      this.set((await relay.storage.listOffers({ state: 'open' })).length);
    },
  });
  const offers = new Counter({
    name: 'ca_chat_offers_total',
    help: 'Chat offers sent to CAs',
    registers: [registry],
  });
  relay.on('chat.offered', () => offers.inc());
  const requested = new Counter({
    name: 'ca_chat_chats_requested_total',
    help: 'Chats requested by clients',
    registers: [registry],
  });
  relay.on('chat.requested', () => requested.inc());
  const matched = new Counter({
    name: 'ca_chat_chats_matched_total',
    help: 'Chats accepted by a CA',
    registers: [registry],
  });
  relay.on('chat.matched', () => matched.inc());
  const ended = new Counter({
    name: 'ca_chat_chats_ended_total',
    help: 'Chats ended, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  relay.on('chat.ended', (_chat, reason) => ended.inc({ reason }));

  const messages = new Counter({
    name: 'ca_chat_messages_relayed_total',
    help: 'Messages stored, by direction (client_to_ca, ca_to_client)',
    labelNames: ['direction'],
    registers: [registry],
  });
  relay.on('message.stored', (message) => {
    if (message.from === 'client') messages.inc({ direction: 'client_to_ca' });
    else if (message.from === 'ca') messages.inc({ direction: 'ca_to_client' });
  });
  const delivered = new Counter({
    name: 'ca_chat_messages_delivered_total',
    help: 'Messages delivered to the other side',
    registers: [registry],
  });
  relay.on('message.delivered', () => delivered.inc());
  const retries = new Counter({
    name: 'ca_chat_delivery_retries_total',
    help: 'Delivery attempts that failed and will be retried',
    registers: [registry],
  });
  relay.on('delivery.retry', () => retries.inc());
  const failures = new Counter({
    name: 'ca_chat_delivery_failures_total',
    help: 'Deliveries given up on',
    registers: [registry],
  });
  relay.on('message.failed', () => failures.inc());
  const errors = new Counter({
    name: 'ca_chat_errors_total',
    help: 'Errors reported by the relay, by code',
    labelNames: ['code'],
    registers: [registry],
  });
  relay.on('error', (error) => errors.inc({ code: error.code }));

  const telegram429 = new Counter({
    name: 'ca_chat_telegram_rate_limited_total',
    help: 'Telegram answers of 429 Too Many Requests',
    registers: [registry],
  });
  if (options.telegram429Count) {
    const read = options.telegram429Count;
    let seen = 0;
    new Gauge({
      name: 'ca_chat_telegram_rate_limited',
      help: 'Telegram 429 answers since start (sampled at scrape)',
      registers: [registry],
      collect() {
        const now = read();
        if (now > seen) telegram429.inc(now - seen);
        seen = now;
        this.set(now);
      },
    });
  }
  const uploadBytes = new Counter({
    name: 'ca_chat_upload_bytes_total',
    help: 'Bytes of files stored, by sender',
    labelNames: ['from'],
    registers: [registry],
  });
  relay.on('file.stored', (file) => uploadBytes.inc({ from: file.from }, file.size));

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    telegram429,
    uploadBytes,
  };
}
