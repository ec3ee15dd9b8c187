import type { TgUpdate, TgWebhookInfo } from './bot-api-types.js';
import { badRequest, conflict } from './errors.js';
import { DescribedResult, type MethodContext } from './method-context.js';

function allowedUpdatesParam(context: MethodContext): string[] | undefined {
  const value = context.params.json('allowed_updates');
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
    throw badRequest("can't parse allowed updates JSON object");
  }
  return value as string[];
}

export function getUpdates(context: MethodContext): Promise<TgUpdate[]> {
  const { params, bot } = context;
  if (bot.webhook) {
    throw conflict(
      "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    );
  }
  const request = {
    signal: context.signal,
    offset: params.integer('offset'),
    limit: params.integer('limit'),
    timeoutSeconds: params.integer('timeout'),
    allowedUpdates: allowedUpdatesParam(context),
  };
  return bot.updates.poll(request);
}

export function setWebhook(context: MethodContext): DescribedResult {
  const { params, bot, webhooks } = context;
  const url = params.string('url') ?? '';
  if (url === '') {
    const wasSet = bot.webhook !== undefined;
    removeWebhook(context);
    return new DescribedResult(true, wasSet ? 'Webhook was deleted' : 'Webhook is already deleted');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest('bad webhook: Failed to resolve host: Name or service not known');
  }
  // Telegram demands HTTPS; the emulator also takes plain HTTP so local servers can receive.
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
  }
  const secretToken = params.string('secret_token');
  if (secretToken !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secretToken)) {
    throw badRequest('secret token contains unallowed characters');
  }
  const maxConnections = params.integer('max_connections') ?? 40;
  if (maxConnections < 1 || maxConnections > 100) {
    throw badRequest('bad webhook: max_connections must be between 1 and 100');
  }
  const allowed = allowedUpdatesParam(context);
  if (params.boolean('drop_pending_updates')) bot.updates.clear();
  bot.updates.setAllowedUpdates(allowed);
  const unchanged = bot.webhook?.url === url && bot.webhook.secretToken === secretToken;
  bot.webhook = { url, maxConnections, ...(secretToken === undefined ? {} : { secretToken }) };
  if (!unchanged) bot.webhookStatus = {};
  bot.updates.endPoll();
  webhooks.start(bot);
  return new DescribedResult(true, unchanged ? 'Webhook is already set' : 'Webhook was set');
}

export function deleteWebhook(context: MethodContext): DescribedResult {
  const wasSet = context.bot.webhook !== undefined;
  if (context.params.boolean('drop_pending_updates')) context.bot.updates.clear();
  removeWebhook(context);
  return new DescribedResult(true, wasSet ? 'Webhook was deleted' : 'Webhook is already deleted');
}

function removeWebhook({ bot, webhooks }: MethodContext): void {
  bot.webhook = undefined;
  bot.webhookStatus = {};
  webhooks.stop(bot);
}

export function getWebhookInfo({ bot }: MethodContext): TgWebhookInfo {
  const info: TgWebhookInfo = {
    url: bot.webhook?.url ?? '',
    has_custom_certificate: false,
    pending_update_count: bot.updates.size,
  };
  if (bot.webhook) {
    info.max_connections = bot.webhook.maxConnections;
    info.ip_address = '127.0.0.1';
    const allowed = bot.updates.allowedUpdates;
    if (allowed.length > 0) info.allowed_updates = allowed;
  }
  if (bot.webhookStatus.lastErrorDate !== undefined) {
    info.last_error_date = bot.webhookStatus.lastErrorDate;
  }
  if (bot.webhookStatus.lastErrorMessage !== undefined) {
    info.last_error_message = bot.webhookStatus.lastErrorMessage;
  }
  return info;
}
