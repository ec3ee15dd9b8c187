/**
 * The page's state and the one pure function that changes it. Everything the server or the
 * user does becomes an `Action`; the view only renders `AppState`. Keeping this pure is what
 * lets a reload, a reconnect and a replayed `message` frame all land on the same screen:
 * a message is identified by (chatId, seq), and an own message waiting for its seq by its
 * clientMsgId.
 */

import type {
  OwnDelivery,
  FileInfo,
  Bubble,
  ChatView,
  AppState,
  WelcomeChat,
  IncomingMessage,
  Action,
} from './chat-types.js';

export type {
  ConnectionState,
  ChatPhase,
  Party,
  OwnDelivery,
  FileInfo,
  CaProfile,
  Bubble,
  ChatView,
  AppState,
  WelcomeChat,
  IncomingMessage,
  Action,
} from './chat-types.js';

export const initialState: AppState = {
  connection: 'connecting',
  clientId: null,
  chats: {},
  currentChatId: null,
  lastError: null,
};

/**
 * What the server said about an own stored message wins over what the page guessed:
 * `delivered` and a server-side `failed` are final, `sent` only replaces `sending` or a
 * local failure (the SDK retried and the server stored it after all).
 */
function serverVerdict(bubble: Bubble | undefined): 'delivered' | 'failed' | null {
  if (!bubble || bubble.seq === null) return null;
  return bubble.delivery === 'delivered' || bubble.delivery === 'failed' ? bubble.delivery : null;
}

export function reduce(state: AppState, action: Action): AppState {
  switch (action.type) {
    case 'connection':
      return state.connection === action.state ? state : { ...state, connection: action.state };
    case 'welcome':
      return welcome(state, action.clientId, action.chats);
    case 'chat.requested': {
      const chat = state.chats[action.chatId] ?? emptyChat(action.chatId);
      return withChat(
        { ...state, currentChatId: action.chatId },
        { ...chat, language: action.language, topic: action.topic },
      );
    }
    case 'chat.queued': {
      const chat = state.chats[action.chatId] ?? emptyChat(action.chatId);
      if (chat.phase !== 'waiting') return state;
      const next = {
        ...chat,
        position: action.position,
        noCaForLanguage: action.noCaForLanguage ?? false,
      };
      return withChat({ ...state, currentChatId: state.currentChatId ?? action.chatId }, next);
    }
    case 'chat.matched': {
      const chat = state.chats[action.chatId] ?? emptyChat(action.chatId);
      if (chat.phase === 'ended') return state;
      return withChat(
        { ...state, currentChatId: state.currentChatId ?? action.chatId },
        { ...chat, phase: 'active', ca: action.ca, position: null, noCaForLanguage: false },
      );
    }
    case 'chat.ended': {
      const chat = state.chats[action.chatId];
      if (!chat) return state;
      if (chat.phase === 'ended' && chat.endReason !== null) return state;
      return withChat(state, {
        ...chat,
        phase: 'ended',
        endReason: action.reason ?? chat.endReason,
        position: null,
        // Whatever was still on its way will not get there any more.
        bubbles: chat.bubbles.map((b) =>
          b.delivery === 'sending'
            ? { ...b, delivery: 'failed' as const, failReason: 'chat_ended', progress: null }
            : b,
        ),
      });
    }
    case 'message':
      return upsertStored(state, action.message);
    case 'local.send':
    case 'local.upload': {
      const chat = state.chats[action.chatId];
      if (!chat || chat.bubbles.some((b) => b.clientMsgId === action.clientMsgId)) return state;
      const isFile = action.type === 'local.upload';
      const bubble: Bubble = {
        key: `l:${action.clientMsgId}`,
        seq: null,
        clientMsgId: action.clientMsgId,
        from: 'client',
        text: isFile ? null : action.text,
        file: isFile
          ? {
              id: null,
              name: action.file.name,
              mime: action.file.mime,
              size: action.file.size,
              sha256: null,
              url: null,
            }
          : null,
        at: action.at,
        delivery: 'sending',
        failReason: null,
        progress: isFile ? 0 : null,
      };
      return withChat(state, { ...chat, bubbles: [...chat.bubbles, bubble] });
    }
    case 'local.progress':
      return updateLocal(state, action.chatId, action.clientMsgId, (b) =>
        b.delivery === 'sending' ? { ...b, progress: clamp01(action.progress) } : b,
      );
    case 'local.failed':
      return updateLocal(state, action.chatId, action.clientMsgId, (b) =>
        b.seq === null
          ? { ...b, delivery: 'failed', failReason: action.reason, progress: null }
          : b,
      );
    case 'ack':
      return ack(state, action.chatId, action.clientMsgId, action.seq, action.file ?? null);
    case 'status':
      return status(state, action.chatId, action.seq, action.state, action.reason ?? null);
    case 'error':
      return { ...state, lastError: { code: action.code, message: action.message } };
    case 'error.clear':
      return state.lastError === null ? state : { ...state, lastError: null };
    case 'show':
      return { ...state, currentChatId: action.chatId };
  }
}

export function emptyChat(chatId: string): ChatView {
  return {
    chatId,
    phase: 'waiting',
    language: null,
    topic: null,
    position: null,
    noCaForLanguage: false,
    ca: null,
    endReason: null,
    bubbles: [],
    earlyStatus: {},
  };
}

/** The chat to show: the current one, else the newest chat that is still open. */
export function visibleChat(state: AppState): ChatView | null {
  if (state.currentChatId !== null) return state.chats[state.currentChatId] ?? null;
  return null;
}

function welcome(state: AppState, clientId: string, chats: WelcomeChat[]): AppState {
  const next: Record<string, ChatView> = { ...state.chats };
  const open = new Set<string>();
  for (const summary of chats) {
    open.add(summary.chatId);
    const chat = next[summary.chatId] ?? emptyChat(summary.chatId);
    next[summary.chatId] = {
      ...chat,
      phase: summary.state,
      language: summary.language ?? chat.language,
      topic: summary.topic ?? chat.topic,
      ca: summary.ca ?? chat.ca,
      position: summary.state === 'waiting' ? (summary.position ?? chat.position) : null,
    };
  }
  // A chat we showed as open that the server no longer lists ended while we were away.
  for (const chat of Object.values(next)) {
    if (!open.has(chat.chatId) && chat.phase !== 'ended')
      next[chat.chatId] = { ...chat, phase: 'ended', position: null };
  }
  let current = state.currentChatId;
  if (current === null || !next[current]) {
    const newest = chats.filter((c) => c.state !== 'ended').at(-1);
    current = newest ? newest.chatId : null;
  }
  return { ...state, clientId, chats: next, currentChatId: current };
}

function upsertStored(state: AppState, message: IncomingMessage): AppState {
  const chat = state.chats[message.chatId] ?? emptyChat(message.chatId);
  const existing = chat.bubbles.find((b) => b.seq === message.seq);
  const file: FileInfo | null = message.file
    ? {
        id: message.file.id,
        name: message.file.name,
        mime: message.file.mime,
        size: message.file.size,
        sha256: message.file.sha256,
        url: message.file.url,
      }
    : null;
  if (existing) {
    // A replay (resume after a reconnect or reload): refresh what may have changed, like a
    // newly signed file URL, and keep what we know about delivery.
    const updated: Bubble = {
      ...existing,
      text: message.text ?? existing.text,
      file: file ?? existing.file,
    };
    return withChat(state, {
      ...chat,
      bubbles: chat.bubbles.map((b) => (b === existing ? updated : b)),
    });
  }
  const early = chat.earlyStatus[message.seq];
  const own = message.from === 'client';
  const bubble: Bubble = {
    key: `s:${message.seq}`,
    seq: message.seq,
    clientMsgId: null,
    from: message.from,
    text: message.text ?? null,
    file,
    at: message.at,
    delivery: own ? (early?.state ?? 'sent') : null,
    failReason: own ? (early?.reason ?? null) : null,
    progress: null,
  };
  const earlyStatus = early ? withoutKey(chat.earlyStatus, message.seq) : chat.earlyStatus;
  return withChat(state, { ...chat, bubbles: insertOrdered(chat.bubbles, bubble), earlyStatus });
}

function ack(
  state: AppState,
  chatId: string,
  clientMsgId: string,
  seq: number,
  file: IncomingMessage['file'] | null,
): AppState {
  const chat = state.chats[chatId];
  if (!chat) return state;
  const local = chat.bubbles.find((b) => b.clientMsgId === clientMsgId);
  if (!local) return state;
  if (local.seq !== null) return state;
  const early = chat.earlyStatus[seq];
  const stored = chat.bubbles.find((b) => b.seq === seq);
  const rest = chat.bubbles.filter((b) => b !== local && b !== stored);
  const base = stored ?? local;
  const delivery: OwnDelivery = early?.state ?? serverVerdict(stored) ?? 'sent';
  const merged: Bubble = {
    ...base,
    // The DOM node of the local bubble is already on screen; keep its key so it is updated, not replaced.
    key: local.key,
    seq,
    clientMsgId,
    text: local.text ?? base.text,
    file: file
      ? {
          id: file.id,
          name: file.name,
          mime: file.mime,
          size: file.size,
          sha256: file.sha256,
          url: file.url,
        }
      : (stored?.file ?? local.file),
    delivery,
    failReason: delivery === 'failed' ? (early?.reason ?? stored?.failReason ?? null) : null,
    progress: null,
  };
  const earlyStatus = early ? withoutKey(chat.earlyStatus, seq) : chat.earlyStatus;
  return withChat(state, { ...chat, bubbles: insertOrdered(rest, merged), earlyStatus });
}

function status(
  state: AppState,
  chatId: string,
  seq: number,
  next: 'pending' | 'delivered' | 'failed',
  reason: string | null,
): AppState {
  if (next === 'pending') return state;
  const chat = state.chats[chatId];
  if (!chat) return state;
  const bubble = chat.bubbles.find((b) => b.seq === seq);
  if (!bubble) {
    return withChat(state, {
      ...chat,
      earlyStatus: { ...chat.earlyStatus, [seq]: { state: next, reason } },
    });
  }
  if (bubble.from !== 'client' || bubble.delivery === null) return state;
  if (bubble.delivery === 'delivered' || (bubble.delivery === next && bubble.failReason === reason))
    return state;
  const updated: Bubble = {
    ...bubble,
    delivery: next,
    failReason: next === 'failed' ? reason : null,
  };
  return withChat(state, {
    ...chat,
    bubbles: chat.bubbles.map((b) => (b === bubble ? updated : b)),
  });
}

function updateLocal(
  state: AppState,
  chatId: string,
  clientMsgId: string,
  change: (b: Bubble) => Bubble,
): AppState {
  const chat = state.chats[chatId];
  if (!chat) return state;
  let changed = false;
  const bubbles = chat.bubbles.map((b) => {
    if (b.clientMsgId !== clientMsgId) return b;
    const next = change(b);
    if (next !== b) changed = true;
    return next;
  });
  return changed ? withChat(state, { ...chat, bubbles }) : state;
}

/** Stored bubbles by seq; unsent own bubbles stay last, in the order they were written. */
function insertOrdered(bubbles: Bubble[], bubble: Bubble): Bubble[] {
  if (bubble.seq === null) return [...bubbles, bubble];
  const seq = bubble.seq;
  const index = bubbles.findIndex((b) => b.seq === null || b.seq > seq);
  if (index === -1) return [...bubbles, bubble];
  return [...bubbles.slice(0, index), bubble, ...bubbles.slice(index)];
}

function withChat(state: AppState, chat: ChatView): AppState {
  return { ...state, chats: { ...state.chats, [chat.chatId]: chat } };
}

function withoutKey<T>(record: Record<number, T>, key: number): Record<number, T> {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

function clamp01(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(1, Math.max(0, value));
}
