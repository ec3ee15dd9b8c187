import type {
  CAChannel,
  CANotice,
  DeliveryReceipt,
  OfferCloseReason,
  OfferNotice,
} from '../ca-channel.js';
import type { ClientEvent, ClientTransport } from '../client-transport.js';
import type { CA, Chat, EndReason, Message } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { RelayApi } from '../relay-api.js';

/** Every call a CA channel receives, in order. */
export type ChannelCall =
  | { method: 'sendOffer'; ca: CA; offer: OfferNotice; ref: string }
  | { method: 'closeOffer'; ca: CA; ref: string | null; chatId: string; reason: OfferCloseReason }
  | { method: 'chatMatched'; ca: CA; chat: Chat; history: Message[] }
  | {
      method: 'deliverMessage';
      ca: CA;
      chat: Chat;
      message: Message;
      ok: boolean;
      error?: CaChatError;
    }
  | { method: 'chatEnded'; ca: CA; chat: Chat; reason: EndReason }
  | { method: 'clientTyping'; ca: CA; chat: Chat }
  | { method: 'notify'; ca: CA; notice: CANotice };

export type ChannelCallOf<M extends ChannelCall['method']> = Extract<ChannelCall, { method: M }>;

export interface WaitOptions {
  /** Also match calls recorded before this one was asked for (default false: the next call). */
  includePast?: boolean;
  /** Rejects after this long (a safety net, default 5000 ms). */
  timeoutMs?: number;
}

export interface FailureOptions {
  /** Whether the relay should retry (default true). */
  retryable?: boolean;
  message?: string;
}

/** A real `CAChannel` that records every call; tests act as the CAs through `relay`. */
export interface RecordingChannel extends CAChannel {
  /** The relay, once started (throws before). */
  readonly relay: RelayApi;
  readonly started: boolean;
  /** Every call, in order. */
  readonly calls: ChannelCall[];
  /** The calls of one method, in order. */
  callsOf<M extends ChannelCall['method']>(method: M): ChannelCallOf<M>[];
  /** Successfully delivered messages, in order. */
  deliveredMessages(caId?: string): Message[];
  /** Offers sent to a CA (or to anyone) for a chat. */
  offersTo(caId: string, chatId?: string): ChannelCallOf<'sendOffer'>[];
  /** The next `count` `deliverMessage` calls fail. */
  failNextDeliveries(count: number, options?: FailureOptions): void;
  /** The next `count` `sendOffer` calls fail. */
  failNextOffers(count: number, options?: FailureOptions): void;
  /** Resolves with the next call of `method` that matches `predicate`. */
  waitFor<M extends ChannelCall['method']>(
    method: M,
    predicate?: (call: ChannelCallOf<M>) => boolean,
    options?: WaitOptions,
  ): Promise<ChannelCallOf<M>>;
  /** Registers a CA on this channel with sensible defaults (`externalId` defaults to a counter). */
  register(profile?: Partial<Parameters<RelayApi['registerCA']>[0]>): Promise<CA>;
}

export interface TransportEvent {
  clientId: string;
  event: ClientEvent;
  /** False when the client was offline (the relay keeps the message pending). */
  delivered: boolean;
}

/** A real `ClientTransport` that records what the relay sends; tests act as clients. */
export interface RecordingTransport extends ClientTransport {
  readonly relay: RelayApi;
  readonly started: boolean;
  /** Every `deliver` call, in order (including failed and offline ones). */
  readonly events: TransportEvent[];
  /** Events taken for a client, optionally of one type. */
  eventsFor<T extends ClientEvent['type']>(
    clientId: string,
    type?: T,
  ): Extract<ClientEvent, { type: T }>[];
  /** While offline, `deliver` resolves false for the client. */
  setOffline(clientId: string, offline?: boolean): void;
  /** Marks the client online here and tells the relay (`clientConnected`). */
  connect(clientId: string): void;
  /** Marks the client offline here and tells the relay (`clientDisconnected`). */
  disconnect(clientId: string): void;
  /** The next `count` deliveries throw a `transport_error`. */
  failNextDeliveries(count: number, options?: FailureOptions): void;
  /** Resolves with the next delivered event matching `predicate`. */
  waitFor<T extends ClientEvent['type']>(
    clientId: string,
    type: T,
    predicate?: (event: Extract<ClientEvent, { type: T }>) => boolean,
    options?: WaitOptions,
  ): Promise<Extract<ClientEvent, { type: T }>>;
}

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
}

/** A list that wakes waiters as items are pushed. */
function createRecorder<T>() {
  const items: T[] = [];
  const waiters = new Set<Waiter<T>>();
  return {
    items,
    push(item: T): void {
      items.push(item);
      for (const w of [...waiters]) {
        if (w.match(item)) {
          waiters.delete(w);
          w.resolve(item);
        }
      }
    },
    wait(match: (item: T) => boolean, options: WaitOptions, describe: string): Promise<T> {
      if (options.includePast) {
        const found = items.find(match);
        if (found !== undefined) return Promise.resolve(found);
      }
      return new Promise<T>((resolve, reject) => {
        const timeoutMs = options.timeoutMs ?? 5000;
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`waitFor(${describe}) timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref?.();
        const waiter: Waiter<T> = {
          match,
          resolve: (item) => {
            clearTimeout(timer);
            resolve(item);
          },
        };
        waiters.add(waiter);
      });
    },
  };
}

function failureQueue() {
  const queue: FailureOptions[] = [];
  return {
    add(count: number, options: FailureOptions = {}): void {
      for (let i = 0; i < count; i++) queue.push(options);
    },
    next(code: 'channel_error' | 'transport_error', what: string): CaChatError | null {
      const f = queue.shift();
      if (!f) return null;
      return new CaChatError(code, f.message ?? `${what} failed (injected)`, {
        retryable: f.retryable ?? true,
      });
    },
  };
}

export function createRecordingChannel(name = 'test'): RecordingChannel {
  let relay: RelayApi | null = null;
  let refs = 0;
  let externalIds = 0;
  const recorder = createRecorder<ChannelCall>();
  const deliveryFailures = failureQueue();
  const offerFailures = failureQueue();
  const record = (call: ChannelCall): void => recorder.push(call);

  return {
    name,
    get relay(): RelayApi {
      if (!relay) throw new Error(`recording channel ${name} is not started`);
      return relay;
    },
    get started() {
      return relay !== null;
    },
    calls: recorder.items,
    async start(r) {
      relay = r;
    },
    async stop() {
      relay = null;
    },
    async sendOffer(ca, offer) {
      const failure = offerFailures.next('channel_error', 'sendOffer');
      if (failure) throw failure;
      const ref = `offer-${++refs}`;
      record({ method: 'sendOffer', ca, offer, ref });
      return ref;
    },
    async closeOffer(ca, ref, chatId, reason) {
      record({ method: 'closeOffer', ca, ref, chatId, reason });
    },
    async chatMatched(ca, chat, history) {
      record({ method: 'chatMatched', ca, chat, history });
    },
    async deliverMessage(ca, chat, message): Promise<DeliveryReceipt> {
      const failure = deliveryFailures.next('channel_error', 'deliverMessage');
      record({
        method: 'deliverMessage',
        ca,
        chat,
        message,
        ok: failure === null,
        ...(failure ? { error: failure } : {}),
      });
      if (failure) throw failure;
      return { peerMessageId: `${chat.id}:${message.seq}` };
    },
    async chatEnded(ca, chat, reason) {
      record({ method: 'chatEnded', ca, chat, reason });
    },
    async clientTyping(ca, chat) {
      record({ method: 'clientTyping', ca, chat });
    },
    async notify(ca, notice) {
      record({ method: 'notify', ca, notice });
    },
    callsOf<M extends ChannelCall['method']>(method: M) {
      return recorder.items.filter((c): c is ChannelCallOf<M> => c.method === method);
    },
    deliveredMessages(caId) {
      return recorder.items
        .filter(
          (c): c is ChannelCallOf<'deliverMessage'> =>
            c.method === 'deliverMessage' && c.ok && (!caId || c.ca.id === caId),
        )
        .map((c) => c.message);
    },
    offersTo(caId, chatId) {
      return recorder.items.filter(
        (c): c is ChannelCallOf<'sendOffer'> =>
          c.method === 'sendOffer' && c.ca.id === caId && (!chatId || c.offer.chatId === chatId),
      );
    },
    failNextDeliveries: (count, options) => deliveryFailures.add(count, options),
    failNextOffers: (count, options) => offerFailures.add(count, options),
    waitFor(method, predicate = () => true, options = {}) {
      return recorder.wait(
        (c) => c.method === method && predicate(c as never),
        options,
        `${name}.${method}`,
      ) as never;
    },
    async register(profile = {}) {
      if (!relay) throw new Error(`recording channel ${name} is not started`);
      const n = ++externalIds;
      return relay.registerCA({
        channel: name,
        externalId: `ext-${n}`,
        address: `addr-${n}`,
        name: `CA ${n}`,
        membershipNo: String(100000 + n),
        languages: ['en'],
        ...profile,
      });
    },
  };
}

export function createRecordingTransport(name = 'recording'): RecordingTransport {
  let relay: RelayApi | null = null;
  const offline = new Set<string>();
  const recorder = createRecorder<TransportEvent>();
  const failures = failureQueue();

  return {
    name,
    get relay(): RelayApi {
      if (!relay) throw new Error(`recording transport ${name} is not started`);
      return relay;
    },
    get started() {
      return relay !== null;
    },
    events: recorder.items,
    async start(r) {
      relay = r;
    },
    async stop() {
      relay = null;
    },
    async deliver(clientId, event) {
      const failure = failures.next('transport_error', 'deliver');
      if (failure) {
        recorder.push({ clientId, event, delivered: false });
        throw failure;
      }
      const delivered = !offline.has(clientId);
      recorder.push({ clientId, event, delivered });
      return delivered;
    },
    eventsFor<T extends ClientEvent['type']>(clientId: string, type?: T) {
      return recorder.items
        .filter(
          (e) =>
            e.clientId === clientId && e.delivered && (type === undefined || e.event.type === type),
        )
        .map((e) => e.event as Extract<ClientEvent, { type: T }>);
    },
    setOffline(clientId, isOffline = true) {
      if (isOffline) offline.add(clientId);
      else offline.delete(clientId);
    },
    connect(clientId) {
      offline.delete(clientId);
      relay?.clientConnected(clientId);
    },
    disconnect(clientId) {
      offline.add(clientId);
      relay?.clientDisconnected(clientId);
    },
    failNextDeliveries: (count, options) => failures.add(count, options),
    waitFor(clientId, type, predicate = () => true, options = {}) {
      return recorder
        .wait(
          (e) =>
            e.delivered &&
            e.clientId === clientId &&
            e.event.type === type &&
            predicate(e.event as never),
          options,
          `${clientId} ${type}`,
        )
        .then((e) => e.event as never);
    },
  };
}
