import type { CA, Chat, EndReason, OfferCloseReason } from '@ca-chat/core';
import type { LanguageOption, TopicOption } from './options.js';

/** Every sentence the bot says, so wording lives in one place. Plain text (no parse mode). */

export const COMMANDS = [
  { command: 'start', description: 'Register as a CA (or start over)' },
  { command: 'profile', description: 'See and edit your profile' },
  { command: 'available', description: 'Receive chat requests' },
  { command: 'away', description: 'Stop receiving chat requests' },
  { command: 'end', description: 'End the current chat' },
  { command: 'help', description: 'What this bot can do' },
];

export const HELP = [
  'I connect you, a Chartered Accountant, with clients who need advice.',
  '',
  '/start – register (name, ICAI membership number, languages, topics)',
  '/profile – see and edit your profile',
  '/available – receive chat requests',
  '/away – pause chat requests',
  '/end – end the current chat',
  '/help – this message',
  '',
  'When a client asks for a chat in one of your languages you get a request with Accept / Decline buttons. ' +
    'While you are in a chat, everything you send here (text, documents, photos) goes to the client.',
].join('\n');

export const ask = {
  name: 'Welcome! Let’s register you as a CA.\n\nWhat is your full name (as it appears on your ICAI membership)?',
  nameAgain: 'Please send your full name as text (2 to 100 characters).',
  membership: 'Thanks. What is your ICAI membership number? It has 6 digits, e.g. 123456.',
  membershipAgain: (got: string) =>
    `“${clip(got, 30)}” is not an ICAI membership number: it must be exactly 6 digits (e.g. 123456). Please send it again.`,
  languages: 'Which languages can you advise clients in? Tap each one, then Done.',
  languagesNeeded: 'Pick at least one language',
  topics: 'Which topics do you cover? Tap each one, then Done — or Skip if you take any topic.',
  useButtons: 'Please use the buttons on the message above, then press Done.',
  confirm: (s: { name: string; membershipNo: string; languages: string; topics: string }) =>
    `Please check your details:\n\nName: ${s.name}\nICAI membership no.: ${s.membershipNo}\nLanguages: ${s.languages}\nTopics: ${s.topics}`,
  finishFirst:
    'You are in the middle of registering. Please answer the question above, or send /start to begin again.',
  newName: 'Send your new name.',
  maxChats: 'How many chats do you want to handle at the same time?',
  staleForm: 'This form is no longer active.',
};

export const registration = {
  inviteRequired:
    'Registration is by invitation. Please open the invite link the administrator gave you, or send /start followed by your invite code.',
  inviteInvalid:
    'That invite code is not valid or has already been used. Please ask the administrator for a new one.',
  closed: 'Registration is closed right now. Please contact the administrator.',
  done: {
    approved:
      '✅ You are registered and available. Chat requests will arrive here. /help shows what you can do.',
    pending:
      '🕒 Thanks, you are registered. An administrator will review your details; you will get a message here when that is done.',
  },
  already: 'You are already registered. /profile shows your details.',
};

export const state = {
  unregistered:
    'Hi! I connect clients with Chartered Accountants. Send /start to register as a CA.',
  pending:
    '🕒 Your registration is waiting for an administrator’s approval. You will get a message here when it has been reviewed.',
  rejected:
    'Your registration was not approved. Please contact the administrator if you think this is a mistake.',
  removed:
    'Your access has been removed by an administrator. Please contact them if you have questions.',
  idle: (status: string) =>
    `You are not in a chat right now (you are ${status === 'available' ? 'available: chat requests will arrive here' : 'away: send /available to receive chat requests'}).`,
  unknownCommand: (cmd: string) => `I don’t know ${clip(cmd, 40)}. /help lists what I understand.`,
  unsupported:
    'Only text, documents and photos can be passed on to the client. Please send this as a document (📎 → File) instead.',
  noEdits: 'Edits are not passed on to the client. Please send a new message instead.',
  failed: 'Sorry, something went wrong on our side. Please try again in a moment.',
  adminOnly: 'Only administrators can do this.',
};

export const status = {
  available: '🟢 You are available. Chat requests will arrive here.',
  away: '⏸ You are away. You will not receive chat requests until you send /available.',
};

export const chat = {
  noActive: 'You have no active chat.',
  whichToEnd: 'You have several active chats. Which one do you want to end?',
  whichChat: (n: number) =>
    `You have ${n} active chats. Please reply (swipe left on a message) to a message of the client you want to answer, so I know which chat it is for.`,
  replyTargetEnded: 'The chat you replied to has ended, so your message was not sent.',
  matched: (label: string, multi: boolean) =>
    `✅ You are now chatting with a client (${label}). Everything you send here goes to them; /end finishes the chat.` +
    (multi ? '\nYou have several chats: reply to a message of this client to answer them.' : ''),
  history: 'The client wrote before you joined:',
  ended: (reason: EndReason) => `⏹ Chat ended: ${endReasons[reason]}`,
  sendFailed: (why: string) => `⚠️ Your message was not delivered: ${why}`,
  fileTooBig: (sizeMb: string, maxMb: string) =>
    `⚠️ This file is ${sizeMb} MB. Telegram lets bots download files of up to ${maxMb} MB, so it was not sent to the client. Please send a smaller file, or split it.`,
  fileOverRelayLimit: (maxMb: string) =>
    `⚠️ This file is larger than the ${maxMb} MB the client can receive, so it was not sent.`,
  fileFailed:
    'The file could not be fetched from Telegram, so it was not sent to the client. Please send it again.',
  deliveryFailed: (reason: string) =>
    `⚠️ One of your messages could not be delivered to the client: ${reason}`,
};

const endReasons: Record<EndReason, string> = {
  client_ended: 'the client ended the chat.',
  ca_ended: 'you ended the chat.',
  no_ca_available: 'no CA was available.',
  timeout: 'the chat timed out.',
  client_gone: 'the client left.',
  ca_removed: 'your access was removed.',
  admin: 'an administrator ended the chat.',
};

export const offer = {
  title: '📩 New chat request',
  closed: {
    taken: 'Taken by another CA',
    withdrawn: 'Withdrawn',
    expired: 'Expired',
    declined: 'Declined',
    accepted: 'Accepted ✅',
  } satisfies Record<OfferCloseReason, string>,
  errors: {
    taken: 'Sorry, another CA already took this chat.',
    capacity: (max: number) =>
      `You already have ${max} active chat${max === 1 ? '' : 's'}, your limit. End one with /end first.`,
    stale: 'This request is no longer open.',
    notApproved: 'Your account is not approved, so you cannot accept chats.',
  },
  accepted: 'Accepted',
  declined: 'Declined',
};

export const approval = {
  request: (ca: CA) =>
    `🆕 CA registration awaiting approval\n\nName: ${ca.name}\nICAI membership no.: ${ca.membershipNo}\nLanguages: ${ca.languages.join(', ')}\nTopics: ${ca.topics.length ? ca.topics.join(', ') : 'any'}\nChannel: ${ca.channel} (${ca.externalId})`,
  decided: (verdict: 'approved' | 'rejected' | 'removed', by: string | null) =>
    `${verdict === 'approved' ? '✅ Approved' : verdict === 'rejected' ? '❌ Rejected' : '🚫 Removed'}${by ? ` by ${by}` : ''}`,
  notices: {
    approved:
      '✅ Your registration was approved! Chat requests in your languages will arrive here. /help shows what you can do.',
    rejected:
      'Your registration was not approved. Please contact the administrator if you think this is a mistake.',
    removed: 'Your access has been removed by an administrator. Any open chats were ended.',
  },
};

export function profileText(ca: CA, languages: LanguageOption[], topics: TopicOption[]): string {
  return [
    '👤 Your profile',
    '',
    `Name: ${ca.name}`,
    `ICAI membership no.: ${ca.membershipNo}`,
    `Languages: ${languageList(ca.languages, languages)}`,
    `Topics: ${topicList(ca.topics, topics)}`,
    `Chats at once: ${ca.maxChats}`,
    `Status: ${ca.status}`,
    `Approval: ${ca.approval}`,
  ].join('\n');
}

export function languageList(tags: string[], languages: LanguageOption[]): string {
  return tags.map((t) => languages.find((l) => l.tag === t)?.name ?? t).join(', ') || '–';
}

export function topicList(ids: string[], topics: TopicOption[]): string {
  return ids.length === 0
    ? 'any'
    : ids.map((id) => topics.find((t) => t.id === id)?.name ?? id).join(', ');
}

/** "Hindi · GST · #a1b2": how a chat is named to the CA. */
export function chatLabel(
  chat: Pick<Chat, 'id' | 'language' | 'topic'>,
  languages: LanguageOption[],
  topics: TopicOption[],
): string {
  const parts = [languageList([chat.language], languages)];
  if (chat.topic) parts.push(topicList([chat.topic], topics));
  parts.push(`#${chat.id.slice(-4)}`);
  return parts.join(' · ');
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export const formatMb = (bytes: number): string =>
  (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '');
