import type {
  CA,
  CANotice,
  Chat,
  EndReason,
  Message,
  OfferCloseReason,
  OfferNotice,
} from '@ca-chat/core';

/**
 * One output line per event, prefixed with the CA it is for. Anything a client wrote is
 * JSON-quoted, so a client can never forge a line (a newline in their text stays `\n`).
 */
export const format = {
  offer(ca: CA, offer: OfferNotice): string {
    const topic = offer.topic ? ` topic=${offer.topic}` : '';
    const first = offer.firstMessage ? ` first=${quote(offer.firstMessage)}` : '';
    return `${tag(ca)} offer ${offer.chatId} language=${offer.language}${topic}${first}`;
  },
  offerClosed(ca: CA, chatId: string, reason: OfferCloseReason): string {
    return `${tag(ca)} offer-closed ${chatId} ${reason}`;
  },
  matched(ca: CA, chat: Chat): string {
    const topic = chat.topic ? ` topic=${chat.topic}` : '';
    return `${tag(ca)} matched ${chat.id} language=${chat.language}${topic}`;
  },
  message(ca: CA, message: Message): string {
    const head = `${tag(ca)} message ${message.chatId} #${message.seq} ${message.from}`;
    if (message.file) {
      const { name, mime, size, sha256 } = message.file;
      const caption = message.text ? ` caption=${quote(message.text)}` : '';
      return `${head} file=${quote(name)} mime=${mime} size=${size} sha256=${sha256}${caption}`;
    }
    return `${head} ${quote(message.text ?? '')}`;
  },
  ended(ca: CA, chatId: string, reason: EndReason): string {
    return `${tag(ca)} ended ${chatId} ${reason}`;
  },
  typing(ca: CA, chatId: string): string {
    return `${tag(ca)} typing ${chatId}`;
  },
  notice(ca: CA, notice: CANotice): string {
    if (notice.type === 'delivery_failed') {
      return `${tag(ca)} notice delivery_failed ${notice.chatId} #${notice.seq} ${quote(notice.reason)}`;
    }
    return `${tag(ca)} notice ${notice.type}`;
  },
};

function tag(ca: CA): string {
  return `@${ca.externalId}`;
}

function quote(text: string): string {
  return JSON.stringify(text);
}
