/** Human words for the codes the server sends. Pure, so the tests and the page agree. */

/** Built-in names, used when the browser has no `Intl.DisplayNames` for a tag. */
const LANGUAGE_NAMES: Record<string, string> = {
  en: 'English',
  hi: 'हिन्दी (Hindi)',
  bn: 'বাংলা (Bengali)',
  te: 'తెలుగు (Telugu)',
  mr: 'मराठी (Marathi)',
  ta: 'தமிழ் (Tamil)',
  ur: 'اردو (Urdu)',
  gu: 'ગુજરાતી (Gujarati)',
  kn: 'ಕನ್ನಡ (Kannada)',
  ml: 'മലയാളം (Malayalam)',
  or: 'ଓଡ଼ିଆ (Odia)',
  pa: 'ਪੰਜਾਬੀ (Punjabi)',
  as: 'অসমীয়া (Assamese)',
  ne: 'नेपाली (Nepali)',
};

/** What the page offers when the server does not say: the languages most CAs in India speak. */
export const DEFAULT_LANGUAGES = ['en', 'hi', 'ta', 'te', 'bn', 'mr', 'gu', 'kn', 'ml'];
export const DEFAULT_TOPICS = ['gst', 'income-tax', 'audit', 'company-law'];

export function languageName(tag: string): string {
  return LANGUAGE_NAMES[tag] ?? tag;
}

export function topicName(topic: string): string {
  const spaced = topic.replace(/[-_]+/g, ' ');
  if (topic === 'gst') return 'GST';
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 ? Math.round(value) : Math.round(value * 10) / 10} ${units[unit]}`;
}

const END_REASONS: Record<string, string> = {
  client_ended: 'You ended the chat.',
  ca_ended: 'The CA ended the chat.',
  no_ca_available: 'No CA was available in time. Please try again later.',
  timeout: 'The chat timed out.',
  client_gone: 'The chat ended because you were away too long.',
  ca_removed: 'The CA is no longer available.',
  admin: 'An administrator ended the chat.',
};

export function endReasonText(reason: string | null): string {
  return (reason && END_REASONS[reason]) ?? 'The chat has ended.';
}

export function deliveryText(state: 'sending' | 'sent' | 'delivered' | 'failed'): string {
  switch (state) {
    case 'sending':
      return 'Sending…';
    case 'sent':
      return 'Sent';
    case 'delivered':
      return 'Delivered';
    case 'failed':
      return 'Not delivered';
  }
}

export function queueText(
  position: number | null,
  noCaForLanguage: boolean,
  language: string | null,
): string {
  if (noCaForLanguage) {
    const name = language ? languageName(language) : 'this language';
    return `No CA who speaks ${name} is registered right now. You can keep waiting, or end this request and choose another language.`;
  }
  if (position === null) return 'Looking for a CA…';
  if (position <= 1) return 'You are next in line. A CA will join soon.';
  return `You are number ${position} in line.`;
}

const ERRORS: Record<string, string> = {
  file_too_large: 'That file is too large.',
  text_too_long: 'That message is too long.',
  unsupported_language: 'That language is not offered here.',
  too_many_chats: 'You already have as many open chats as allowed.',
  rate_limited: 'Too many requests; please wait a moment.',
  chat_ended: 'This chat has ended.',
  unauthorized: 'Your session expired; please reload the page.',
};

export function errorText(code: string, message: string): string {
  return ERRORS[code] ?? message;
}
