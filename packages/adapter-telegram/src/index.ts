export {
  createTelegramChannel,
  type TelegramChannel,
  type TelegramChannelStats,
} from './telegram-channel.js';
export type {
  LanguageOption,
  TelegramChannelOptions,
  TelegramRateLimits,
  TelegramWebhookOptions,
  TopicOption,
  WebhookHandler,
} from './options.js';
export { splitText } from './split-text.js';
