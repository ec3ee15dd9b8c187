import type { CaChatClient, CaChatClientError, WireMessage } from '@ca-chat/transport-ws/client';
import {
  initialState,
  reduce,
  visibleChat,
  type Action,
  type AppState,
  type ConnectionState,
} from './chat-state.js';
import type { PageConfig } from './config.js';
import { errorText, formatBytes, languageName, topicName } from './labels.js';
import { render, type Elements } from './view.js';

/** The client calls the page makes; `CaChatClient` fits (tests may pass a stand-in). */
export type ChatClient = Pick<
  CaChatClient,
  'on' | 'connect' | 'requestChat' | 'send' | 'sendFile' | 'typing' | 'end' | 'state'
>;

export interface AppOptions {
  client: ChatClient;
  elements: Elements;
  config: PageConfig;
  now?: () => number;
}

export interface App {
  getState(): AppState;
}

/** Typing notices go out at most this often. */
const TYPING_INTERVAL_MS = 3000;

/** Wires the SDK's events and the page's controls to the state reducer and the view. */
export function startApp(options: AppOptions): App {
  const { client, elements: el, config } = options;
  const now = options.now ?? (() => Date.now());
  let state: AppState = initialState;
  let everOpened = false;
  let requesting = false;
  let lastTypingAt = 0;
  let localCounter = 0;
  /** First messages sent with a chat request: the server acks them without a `message` frame. */
  const firstMessages = new Map<string, string>();
  const earlyFirstAcks = new Map<string, number>();
  let renderQueued = false;

  const dispatch = (action: Action): void => {
    const next = reduce(state, action);
    if (next === state) return;
    state = next;
    if (!renderQueued) {
      renderQueued = true;
      // One render per task, however many frames arrived in it.
      queueMicrotask(() => {
        renderQueued = false;
        render(state, el, visibleChat(state), { requesting });
      });
    }
  };
  const localId = (): string => `${now().toString(36)}-${(localCounter++).toString(36)}`;
  const fail = (error: unknown): void => {
    const e = error as Partial<CaChatClientError>;
    const code = e.code ?? 'internal';
    dispatch({ type: 'error', code, message: errorText(code, e.message ?? String(error)) });
  };

  fillSelect(
    el.languageSelect,
    config.languages.map((tag) => [tag, languageName(tag)]),
  );
  fillSelect(el.topicSelect, [
    ['', 'Any topic'],
    ...config.topics.map((t): [string, string] => [t, topicName(t)]),
  ]);
  el.fileLimit.textContent = `(up to ${formatBytes(config.maxFileBytes)})`;
  el.fileInput.dataset.maxFileBytes = String(config.maxFileBytes);
  el.messageInput.maxLength = config.maxTextLength;
  el.firstMessage.maxLength = config.maxTextLength;
  render(state, el, null, { requesting });

  // ---- from the server

  client.on('state', (next) => {
    if (next === 'open') everOpened = true;
    // The SDK reconnects by itself (the page never closes it): after the first open, any
    // other state means "on the way back".
    const mapped: ConnectionState =
      next === 'open' ? 'open' : everOpened ? 'reconnecting' : 'connecting';
    dispatch({ type: 'connection', state: mapped });
  });
  client.on('welcome', (info) => {
    dispatch({
      type: 'welcome',
      clientId: info.clientId,
      chats: info.chats.map((c) => ({
        chatId: c.chatId,
        state: c.state,
        language: c.language,
        topic: c.topic,
        ca: c.ca ?? null,
        lastSeq: c.lastSeq,
        position: c.position ?? null,
      })),
    });
    dispatch({ type: 'connection', state: 'open' });
  });
  client.on('chat.queued', (e) =>
    dispatch({
      type: 'chat.queued',
      chatId: e.chatId,
      position: e.position,
      noCaForLanguage: e.noCaForLanguage ?? false,
    }),
  );
  client.on('chat.matched', (e) => dispatch({ type: 'chat.matched', chatId: e.chatId, ca: e.ca }));
  client.on('chat.ended', (e) =>
    dispatch({ type: 'chat.ended', chatId: e.chatId, reason: e.reason }),
  );
  client.on('message', (m: WireMessage) => dispatch({ type: 'message', message: m }));
  client.on('message.status', (e) =>
    dispatch({
      type: 'status',
      chatId: e.chatId,
      seq: e.seq,
      state: e.state,
      reason: e.reason ?? null,
    }),
  );
  client.on('message.ack', (e) => {
    const local = firstMessages.get(e.chatId);
    if (local) {
      firstMessages.delete(e.chatId);
      dispatch({ type: 'ack', chatId: e.chatId, clientMsgId: local, seq: e.seq });
    } else if (requesting && earlyFirstAcks.size < 8) {
      // The ack of a first message can beat the request's own answer; keep it for a moment.
      earlyFirstAcks.set(e.chatId, e.seq);
    }
  });
  client.on('error', (e) => {
    // Errors that answer a call reject that call, which reports them; the rest are shown here.
    if ((e as { ref?: string }).ref === undefined) fail(e);
  });

  // ---- from the user

  el.requestForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (requesting) return;
    const language = el.languageSelect.value;
    const topic = el.topicSelect.value;
    const text = el.firstMessage.value.trim();
    requesting = true;
    dispatch({ type: 'error.clear' });
    render(state, el, visibleChat(state), { requesting });
    client
      .requestChat({ language, ...(topic ? { topic } : {}), ...(text ? { text } : {}) })
      .then((chatId) => {
        dispatch({ type: 'chat.requested', chatId, language, topic: topic || null });
        if (text) {
          const id = `first-${chatId}`;
          dispatch({ type: 'local.send', chatId, clientMsgId: id, text, at: now() });
          const early = earlyFirstAcks.get(chatId);
          earlyFirstAcks.delete(chatId);
          if (early !== undefined) dispatch({ type: 'ack', chatId, clientMsgId: id, seq: early });
          else firstMessages.set(chatId, id);
        }
        el.firstMessage.value = '';
        el.messageInput.focus();
      })
      .catch(fail)
      .finally(() => {
        requesting = false;
        earlyFirstAcks.clear();
        render(state, el, visibleChat(state), { requesting });
      });
  });

  el.composeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    sendText();
  });
  el.messageInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendText();
    }
  });
  el.messageInput.addEventListener('input', () => {
    const chat = visibleChat(state);
    if (!chat || chat.phase !== 'active' || now() - lastTypingAt < TYPING_INTERVAL_MS) return;
    lastTypingAt = now();
    client.typing(chat.chatId);
  });

  el.fileInput.addEventListener('change', () => {
    const file = el.fileInput.files?.[0];
    const chat = visibleChat(state);
    el.fileInput.value = '';
    if (!file || !chat) return;
    if (file.size > config.maxFileBytes) {
      dispatch({
        type: 'error',
        code: 'file_too_large',
        message: `${file.name} (${formatBytes(file.size)}) is larger than the ${formatBytes(config.maxFileBytes)} limit.`,
      });
      return;
    }
    dispatch({ type: 'error.clear' });
    const id = localId();
    const chatId = chat.chatId;
    dispatch({
      type: 'local.upload',
      chatId,
      clientMsgId: id,
      file: { name: file.name, mime: file.type, size: file.size },
      at: now(),
    });
    client
      .sendFile(chatId, file, {
        onProgress: (p) =>
          dispatch({
            type: 'local.progress',
            chatId,
            clientMsgId: id,
            progress: p.totalBytes > 0 ? p.loadedBytes / p.totalBytes : 0,
          }),
      })
      .then((stored) =>
        dispatch({
          type: 'ack',
          chatId,
          clientMsgId: id,
          seq: stored.seq,
          file: stored.file ?? null,
        }),
      )
      .catch((error: CaChatClientError) => {
        dispatch({
          type: 'local.failed',
          chatId,
          clientMsgId: id,
          reason: error.code ?? 'transport_error',
        });
        fail(error);
      });
  });

  el.endButton.addEventListener('click', () => {
    const chat = visibleChat(state);
    if (!chat || chat.phase === 'ended') return;
    el.endButton.disabled = true;
    client
      .end(chat.chatId)
      .catch(fail)
      .finally(() => {
        el.endButton.disabled = false;
        el.newChatButton.focus();
      });
  });

  el.newChatButton.addEventListener('click', () => {
    dispatch({ type: 'show', chatId: null });
    queueMicrotask(() => el.languageSelect.focus());
  });

  function sendText(): void {
    const chat = visibleChat(state);
    const text = el.messageInput.value.trim();
    if (!chat || chat.phase === 'ended' || text === '') return;
    if (text.length > config.maxTextLength) {
      dispatch({
        type: 'error',
        code: 'text_too_long',
        message: `Messages can be up to ${config.maxTextLength} characters.`,
      });
      return;
    }
    el.messageInput.value = '';
    const id = localId();
    const chatId = chat.chatId;
    dispatch({ type: 'error.clear' });
    dispatch({ type: 'local.send', chatId, clientMsgId: id, text, at: now() });
    client
      .send(chatId, text)
      .then(({ seq }) => dispatch({ type: 'ack', chatId, clientMsgId: id, seq }))
      .catch((error: CaChatClientError) => {
        dispatch({
          type: 'local.failed',
          chatId,
          clientMsgId: id,
          reason: error.code ?? 'transport_error',
        });
        fail(error);
      });
  }

  client.connect().catch(fail);
  return { getState: () => state };
}

function fillSelect(select: HTMLSelectElement, options: Array<[string, string]>): void {
  const doc = select.ownerDocument;
  select.replaceChildren(
    ...options.map(([value, label]) => {
      const option = doc.createElement('option');
      option.value = value;
      option.textContent = label;
      return option;
    }),
  );
}
