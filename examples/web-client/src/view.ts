import type { AppState, Bubble, ChatView } from './chat-state.js';
import { deliveryText, endReasonText, formatBytes, languageName, queueText } from './labels.js';

/** The page's elements the view writes to, found once. */
export interface Elements {
  connection: HTMLElement;
  connectionText: HTMLElement;
  error: HTMLElement;
  startPanel: HTMLElement;
  chatPanel: HTMLElement;
  queue: HTMLElement;
  caInfo: HTMLElement;
  caName: HTMLElement;
  caLanguages: HTMLElement;
  ended: HTMLElement;
  messages: HTMLOListElement;
  composeForm: HTMLFormElement;
  messageInput: HTMLTextAreaElement;
  sendButton: HTMLButtonElement;
  fileInput: HTMLInputElement;
  upload: HTMLElement;
  uploadProgress: HTMLProgressElement;
  endButton: HTMLButtonElement;
  newChatButton: HTMLButtonElement;
  requestForm: HTMLFormElement;
  requestButton: HTMLButtonElement;
  languageSelect: HTMLSelectElement;
  topicSelect: HTMLSelectElement;
  firstMessage: HTMLTextAreaElement;
  fileLimit: HTMLElement;
}

export function findElements(doc: Document): Elements {
  const get = <T extends HTMLElement>(testId: string): T => {
    const el = doc.querySelector<T>(`[data-testid="${testId}"]`);
    if (!el) throw new Error(`the page lacks [data-testid="${testId}"]`);
    return el;
  };
  const connection = get<HTMLElement>('connection-status');
  return {
    connection,
    connectionText: connection.querySelector<HTMLElement>('.connection__text') ?? connection,
    error: get('error'),
    startPanel: get('start-panel'),
    chatPanel: get('chat-panel'),
    queue: get('queue-status'),
    caInfo: get('ca-info'),
    caName: get('ca-name'),
    caLanguages: get('ca-languages'),
    ended: get('ended-status'),
    messages: get<HTMLOListElement>('message-list'),
    composeForm: get<HTMLFormElement>('compose-form'),
    messageInput: get<HTMLTextAreaElement>('message-input'),
    sendButton: get<HTMLButtonElement>('send-button'),
    fileInput: get<HTMLInputElement>('file-input'),
    upload: get('upload-status'),
    uploadProgress: get<HTMLProgressElement>('upload-progress'),
    endButton: get<HTMLButtonElement>('end-button'),
    newChatButton: get<HTMLButtonElement>('new-chat-button'),
    requestForm: get<HTMLFormElement>('request-form'),
    requestButton: get<HTMLButtonElement>('request-button'),
    languageSelect: get<HTMLSelectElement>('language-select'),
    topicSelect: get<HTMLSelectElement>('topic-select'),
    firstMessage: get<HTMLTextAreaElement>('first-message'),
    fileLimit: doc.getElementById('file-limit') ?? get('file-input'),
  };
}

const CONNECTION_TEXT: Record<AppState['connection'], string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
};

/** Writes the state to the page; only what changed is touched, so screen readers hear only news. */
export function render(
  state: AppState,
  el: Elements,
  chat: ChatView | null,
  busy: { requesting: boolean },
): void {
  setAttr(el.connection, 'data-state', state.connection);
  setText(el.connectionText, CONNECTION_TEXT[state.connection]);

  const error = state.lastError;
  setText(el.error, error ? error.message : '');
  el.error.hidden = error === null;
  if (error) setAttr(el.error, 'data-code', error.code);

  const showChat = chat !== null;
  el.chatPanel.hidden = !showChat;
  el.startPanel.hidden = showChat;
  const online = state.connection === 'open';
  el.requestButton.disabled = !online || busy.requesting;
  if (!chat) {
    clearMessages(el.messages);
    return;
  }

  const waiting = chat.phase === 'waiting';
  const active = chat.phase === 'active';
  const ended = chat.phase === 'ended';
  setAttr(el.chatPanel, 'data-chat-id', chat.chatId);
  setAttr(el.chatPanel, 'data-phase', chat.phase);

  el.queue.hidden = !waiting;
  if (waiting) {
    setText(el.queue, queueText(chat.position, chat.noCaForLanguage, chat.language));
    setAttr(el.queue, 'data-position', chat.position === null ? '' : String(chat.position));
    setAttr(el.queue, 'data-no-ca', String(chat.noCaForLanguage));
  }

  el.caInfo.hidden = chat.ca === null;
  if (chat.ca) {
    setText(el.caName, chat.ca.name);
    setText(el.caLanguages, chat.ca.languages.map(languageName).join(', '));
  }

  el.ended.hidden = !ended;
  if (ended) setText(el.ended, endReasonText(chat.endReason));

  el.endButton.hidden = ended;
  el.endButton.textContent = waiting ? 'Cancel request' : 'End chat';
  el.composeForm.hidden = ended;
  el.newChatButton.hidden = !ended;
  // Clients may write while waiting (the CA sees it on accepting) but files need a CA.
  el.sendButton.disabled = !online || ended;
  el.fileInput.disabled = !online || !active;

  const uploading = chat.bubbles.find((b) => b.progress !== null);
  el.upload.hidden = !uploading;
  const percent = uploading ? Math.round((uploading.progress ?? 0) * 100) : 0;
  if (el.uploadProgress.value !== percent) el.uploadProgress.value = percent;
  setAttr(
    el.uploadProgress,
    'aria-valuetext',
    uploading ? `${uploading.file?.name ?? 'file'}: ${percent}%` : '',
  );

  renderMessages(el.messages, chat);
}

function renderMessages(list: HTMLOListElement, chat: ChatView): void {
  if (list.dataset.chatId !== chat.chatId) {
    clearMessages(list);
    list.dataset.chatId = chat.chatId;
  }
  const existing = new Map<string, HTMLLIElement>();
  for (const child of Array.from(list.children) as HTMLLIElement[])
    existing.set(child.dataset.key ?? '', child);
  let previous: Element | null = null;
  for (const bubble of chat.bubbles) {
    let item = existing.get(bubble.key);
    existing.delete(bubble.key);
    if (!item) item = createBubble(list.ownerDocument, bubble, chat.ca?.name ?? 'CA');
    updateBubble(item, bubble);
    const wanted: ChildNode | null = previous ? previous.nextSibling : list.firstChild;
    if (wanted !== item) list.insertBefore(item, wanted);
    previous = item;
  }
  for (const stale of existing.values()) stale.remove();
  // Follow the conversation when something new arrives at the end, not on every status change.
  const lastKey = chat.bubbles.at(-1)?.key ?? '';
  if (list.dataset.lastKey !== lastKey) {
    list.dataset.lastKey = lastKey;
    list.scrollTop = list.scrollHeight;
  }
}

function clearMessages(list: HTMLOListElement): void {
  if (list.firstChild) list.replaceChildren();
  delete list.dataset.chatId;
  delete list.dataset.lastKey;
}

function createBubble(doc: Document, bubble: Bubble, caName: string): HTMLLIElement {
  const li = doc.createElement('li');
  li.className = 'bubble';
  li.dataset.testid = 'message';
  li.dataset.key = bubble.key;
  li.dataset.from = bubble.from;
  const who = doc.createElement('span');
  who.className = 'bubble__who';
  who.textContent = bubble.from === 'client' ? 'You' : bubble.from === 'ca' ? caName : 'Notice';
  li.append(who);
  const body = doc.createElement('div');
  body.className = 'bubble__body';
  li.append(body);
  const meta = doc.createElement('div');
  meta.className = 'bubble__meta';
  const time = doc.createElement('time');
  time.dateTime = new Date(bubble.at).toISOString();
  time.textContent = new Date(bubble.at).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
  });
  meta.append(time);
  if (bubble.from === 'client') {
    const badge = doc.createElement('span');
    badge.className = 'badge';
    badge.dataset.testid = 'message-status';
    meta.append(badge);
  }
  li.append(meta);
  return li;
}

function updateBubble(li: HTMLLIElement, bubble: Bubble): void {
  setAttr(li, 'data-seq', bubble.seq === null ? '' : String(bubble.seq));
  const body = li.querySelector<HTMLElement>('.bubble__body')!;
  const signature = JSON.stringify([
    bubble.text,
    bubble.file?.url ?? null,
    bubble.file?.name ?? null,
    bubble.progress === null,
  ]);
  if (body.dataset.signature !== signature) {
    body.dataset.signature = signature;
    body.replaceChildren(...bubbleContent(li.ownerDocument, bubble));
  }
  if (bubble.progress !== null) {
    const pct = body.querySelector<HTMLElement>('.bubble__progress');
    if (pct) setText(pct, `Uploading ${Math.round(bubble.progress * 100)}%`);
  }
  const badge = li.querySelector<HTMLElement>('[data-testid="message-status"]');
  if (badge && bubble.delivery) {
    setAttr(badge, 'data-state', bubble.delivery);
    setAttr(li, 'data-state', bubble.delivery);
    const reason =
      bubble.delivery === 'failed' && bubble.failReason ? ` (${bubble.failReason})` : '';
    setText(badge, deliveryText(bubble.delivery) + reason);
  }
}

function bubbleContent(doc: Document, bubble: Bubble): Node[] {
  const nodes: Node[] = [];
  if (bubble.file) {
    const p = doc.createElement('p');
    p.className = 'bubble__text';
    const label = `${bubble.file.name} (${formatBytes(bubble.file.size)})`;
    if (bubble.file.url) {
      const a = doc.createElement('a');
      a.className = 'file-link';
      a.dataset.testid = 'file-link';
      a.href = bubble.file.url;
      a.download = bubble.file.name;
      a.rel = 'noopener';
      a.textContent = label;
      a.setAttribute('aria-label', `Download ${label}`);
      p.append(fileTag(doc), a);
    } else {
      p.append(fileTag(doc), label);
    }
    nodes.push(p);
    if (bubble.progress !== null) {
      const progress = doc.createElement('span');
      progress.className = 'bubble__progress';
      progress.textContent = 'Uploading 0%';
      nodes.push(progress);
    }
  }
  if (bubble.text) {
    const p = doc.createElement('p');
    p.className = 'bubble__text';
    // textContent, never innerHTML: whatever the CA writes stays text.
    p.textContent = bubble.text;
    nodes.push(p);
  }
  return nodes;
}

/** A small "FILE" tag before a file's name (text, so it needs no icon font or image). */
function fileTag(doc: Document): HTMLElement {
  const tag = doc.createElement('span');
  tag.className = 'file-tag';
  tag.textContent = 'File';
  return tag;
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el: HTMLElement, name: string, value: string): void {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}
