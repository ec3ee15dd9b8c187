/**
 * The console's command language: one command a line, words separated by spaces, the
 * last argument of `say` and `register` taking the rest of the line.
 */
export type ConsoleCommand =
  | { kind: 'help' }
  | { kind: 'register'; handle: string; membershipNo: string; languages: string[]; name: string }
  | { kind: 'as'; handle: string }
  | { kind: 'available' }
  | { kind: 'away' }
  | { kind: 'chats' }
  | { kind: 'accept'; chatId: string }
  | { kind: 'decline'; chatId: string }
  | { kind: 'say'; chatId: string; text: string }
  | { kind: 'end'; chatId: string };

export type ParseResult =
  | { ok: true; command: ConsoleCommand }
  | { ok: false; message: string }
  | { ok: true; command: null };

export const HELP_TEXT = [
  'register <handle> <membershipNo> <lang,lang…> <name…>   register a CA and act as them',
  'as <handle>                                             act as an already registered CA',
  'available | away                                        take offers, or stop taking them',
  'accept <chatId> | decline <chatId>                      answer an offer',
  'say <chatId> <text…>                                    write to the client',
  'end <chatId>                                            end the chat',
  'chats                                                   list your active chats',
];

const HANDLE = /^[a-z0-9_][a-z0-9_.-]{0,31}$/i;

export function parseCommand(line: string): ParseResult {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return { ok: true, command: null };
  const [verb = '', ...rest] = trimmed.split(/\s+/);
  const arg = (i: number): string | undefined => rest[i];
  // The remainder of the line after `count` words, with its inner spacing kept.
  const tail = (count: number): string => {
    let remaining = trimmed.slice(verb.length);
    for (let i = 0; i < count; i++) remaining = remaining.trimStart().slice(rest[i]?.length ?? 0);
    return remaining.trim();
  };
  switch (verb.toLowerCase()) {
    case 'help':
      return { ok: true, command: { kind: 'help' } };
    case 'available':
    case 'away':
    case 'chats':
      return { ok: true, command: { kind: verb.toLowerCase() as 'available' | 'away' | 'chats' } };
    case 'as': {
      const handle = arg(0);
      if (!handle || !HANDLE.test(handle)) return usage('as <handle>');
      return { ok: true, command: { kind: 'as', handle } };
    }
    case 'register': {
      const [handle, membershipNo, languages] = rest;
      const name = tail(3);
      if (!handle || !HANDLE.test(handle) || !membershipNo || !languages || name === '') {
        return usage('register <handle> <membershipNo> <lang,lang…> <name…>');
      }
      const list = languages
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      return {
        ok: true,
        command: { kind: 'register', handle, membershipNo, languages: list, name },
      };
    }
    case 'accept':
    case 'decline':
    case 'end': {
      const chatId = arg(0);
      if (!chatId || rest.length !== 1) return usage(`${verb.toLowerCase()} <chatId>`);
      return {
        ok: true,
        command: { kind: verb.toLowerCase() as 'accept' | 'decline' | 'end', chatId },
      };
    }
    case 'say': {
      const chatId = arg(0);
      const text = tail(1);
      if (!chatId || text === '') return usage('say <chatId> <text…>');
      return { ok: true, command: { kind: 'say', chatId, text } };
    }
    default:
      return { ok: false, message: `unknown command ${JSON.stringify(verb)} (try help)` };
  }
}

function usage(text: string): ParseResult {
  return { ok: false, message: `usage: ${text}` };
}
