import {
  CaChatError,
  type CA,
  type Chat,
  type Message,
  type Offer,
  type RelayApi,
} from '@ca-chat/core';

/** What the admin commands need, whether the server runs (HTTP) or not (the store, opened directly). */
export interface AdminBackend {
  readonly mode: 'remote' | 'local';
  listCAs(filter?: { pending?: boolean }): Promise<CA[]>;
  approveCA(id: string): Promise<CA>;
  rejectCA(id: string): Promise<CA>;
  removeCA(id: string): Promise<CA>;
  createInvite(): Promise<string>;
  listChats(filter?: { state?: Chat['state'] }): Promise<Chat[]>;
  showChat(id: string): Promise<ChatDetails>;
  endChat(id: string): Promise<Chat>;
  transcript(id: string): Promise<Transcript>;
  close(): Promise<void>;
}

export interface ChatDetails {
  chat: Chat;
  ca: CA | null;
  offers: Offer[];
  messageCount: number;
}

export interface Transcript {
  chat: Chat;
  ca: CA | null;
  messages: Message[];
}

/** The admin operations on a relay (the running server's, or one opened on the data dir). */
export function relayAdminBackend(
  relay: RelayApi,
  mode: 'remote' | 'local',
  close: () => Promise<void> = async () => {},
): AdminBackend {
  const requireChat = async (id: string): Promise<Chat> => {
    const chat = await relay.getChat(id);
    if (!chat) throw new CaChatError('unknown_chat', `no chat with id ${id}`);
    return chat;
  };
  return {
    mode,
    listCAs: async (filter = {}) => relay.listCAs(filter.pending ? { approval: 'pending' } : {}),
    approveCA: (id) => relay.approveCA(id),
    rejectCA: (id) => relay.rejectCA(id),
    removeCA: (id) => relay.removeCA(id),
    createInvite: () => relay.createInvite(),
    listChats: async (filter = {}) => relay.listChats(filter.state ? { state: filter.state } : {}),
    async showChat(id) {
      const chat = await requireChat(id);
      const [offers, transcript] = await Promise.all([
        relay.listOffers(id),
        relay.getTranscript(id),
      ]);
      return { chat, ca: transcript.ca, offers, messageCount: transcript.messages.length };
    },
    endChat: (id) => relay.endChatByAdmin(id),
    transcript: (id) => relay.getTranscript(id),
    close,
  };
}
