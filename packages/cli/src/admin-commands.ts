import type { Command } from 'commander';
import { CaChatError, type CA, type Chat, type Message } from '@ca-chat/core';
import type { AdminBackend, Transcript } from './admin-backend.js';
import { remoteAdminBackend } from './admin-server.js';
import { dataDirLayout, processAlive, readAdminEndpoint } from './data-dir.js';
import { openLocalAdmin } from './local-admin.js';

type Out = (text: string) => void;

/** The running server's admin API when there is one; else the store, opened directly. */
export async function openAdmin(dataDir: string): Promise<AdminBackend> {
  const layout = dataDirLayout(dataDir);
  const endpoint = await readAdminEndpoint(layout);
  if (endpoint && processAlive(endpoint.pid))
    return remoteAdminBackend(endpoint.url, endpoint.token);
  return openLocalAdmin(layout);
}

export function registerAdminCommands(program: Command, out: Out): void {
  const dataDirOption = (cmd: Command): Command =>
    cmd.option(
      '--data-dir <dir>',
      'data dir of the deployment (env CA_CHAT_DATA_DIR)',
      process.env.CA_CHAT_DATA_DIR ?? './data',
    );
  const run =
    <A extends unknown[]>(fn: (admin: AdminBackend, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const cmd = args.at(-1) as Command;
      const admin = await openAdmin(
        String(cmd.opts().dataDir ?? cmd.parent?.opts().dataDir ?? './data'),
      );
      try {
        await fn(admin, ...args);
      } finally {
        await admin.close();
      }
    };

  const cas = program.command('cas').description('list, approve, reject, invite and remove CAs');
  dataDirOption(
    cas
      .command('list')
      .description('list registered CAs')
      .option('--pending', 'only CAs awaiting approval'),
  ).action(
    run(async (admin, opts: { pending?: boolean }) =>
      out(formatCAs(await admin.listCAs({ pending: !!opts.pending }))),
    ),
  );
  dataDirOption(cas.command('approve <caId>').description('approve a pending CA')).action(
    run(async (admin, id: string) => out(`approved ${describeCA(await admin.approveCA(id))}`)),
  );
  dataDirOption(cas.command('reject <caId>').description('reject a pending CA')).action(
    run(async (admin, id: string) => out(`rejected ${describeCA(await admin.rejectCA(id))}`)),
  );
  dataDirOption(
    cas.command('invite').description('print a one-time invite code (registration mode "invite")'),
  ).action(run(async (admin) => out(await admin.createInvite())));
  dataDirOption(
    cas.command('remove <caId>').description('remove a CA; their chats end with ca_removed'),
  ).action(
    run(async (admin, id: string) => out(`removed ${describeCA(await admin.removeCA(id))}`)),
  );

  const chats = program.command('chats').description('list, show and end chats');
  dataDirOption(
    chats
      .command('list')
      .description('list chats')
      .option('--state <state>', 'waiting, active or ended'),
  ).action(
    run(async (admin, opts: { state?: string }) => {
      if (opts.state && !['waiting', 'active', 'ended'].includes(opts.state)) {
        throw new CaChatError(
          'invalid_input',
          `--state must be waiting, active or ended, not "${opts.state}"`,
        );
      }
      out(
        formatChats(
          await admin.listChats(opts.state ? { state: opts.state as Chat['state'] } : {}),
        ),
      );
    }),
  );
  dataDirOption(chats.command('show <chatId>').description('show one chat')).action(
    run(async (admin, id: string) => {
      const d = await admin.showChat(id);
      out(
        [
          `chat      ${d.chat.id}`,
          `state     ${d.chat.state}${d.chat.endReason ? ` (${d.chat.endReason})` : ''}`,
          `language  ${d.chat.language}${d.chat.topic ? ` · topic ${d.chat.topic}` : ''}`,
          `client    ${d.chat.clientId}`,
          `ca        ${d.ca ? describeCA(d.ca) : '—'}`,
          `created   ${iso(d.chat.createdAt)}`,
          `matched   ${iso(d.chat.matchedAt)}`,
          `ended     ${iso(d.chat.endedAt)}`,
          `messages  ${d.messageCount}`,
          `offers    ${d.offers.map((o) => `${o.caId}:${o.state}`).join(', ') || '—'}`,
        ].join('\n'),
      );
    }),
  );
  dataDirOption(chats.command('end <chatId>').description('end a chat (reason: admin)')).action(
    run(async (admin, id: string) => out(`ended ${(await admin.endChat(id)).id}`)),
  );

  dataDirOption(
    program
      .command('export <chatId>')
      .description('print the transcript of a chat, with file names and hashes')
      .option('--format <format>', 'md or json', 'md'),
  ).action(
    run(async (admin, id: string, opts: { format: string }) => {
      if (opts.format !== 'md' && opts.format !== 'json')
        throw new CaChatError('invalid_input', '--format must be md or json');
      const transcript = await admin.transcript(id);
      out(
        opts.format === 'json'
          ? JSON.stringify(transcript, null, 2)
          : transcriptMarkdown(transcript),
      );
    }),
  );
}

const iso = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString());
const describeCA = (ca: CA): string => `${ca.id} ${ca.name} (${ca.membershipNo}) [${ca.approval}]`;

export function formatCAs(cas: CA[]): string {
  if (cas.length === 0) return 'no CAs';
  const rows = cas.map((ca) => [
    ca.id,
    ca.name,
    ca.membershipNo,
    ca.languages.join(','),
    ca.topics.join(',') || '—',
    ca.approval,
    ca.status,
    String(ca.maxChats),
  ]);
  return table(
    ['id', 'name', 'membership', 'languages', 'topics', 'approval', 'status', 'max'],
    rows,
  );
}

export function formatChats(chats: Chat[]): string {
  if (chats.length === 0) return 'no chats';
  const rows = chats.map((c) => [
    c.id,
    c.state,
    c.endReason ?? '',
    c.language,
    c.topic ?? '',
    c.caId ?? '',
    iso(c.createdAt),
  ]);
  return table(['id', 'state', 'reason', 'lang', 'topic', 'ca', 'created'], rows);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function transcriptMarkdown({ chat, ca, messages }: Transcript): string {
  const who = (m: Message): string =>
    m.from === 'client' ? 'Client' : m.from === 'ca' ? (ca?.name ?? 'CA') : 'System';
  const lines = [
    `# Chat ${chat.id}`,
    '',
    `- State: ${chat.state}${chat.endReason ? ` (${chat.endReason})` : ''}`,
    `- Language: ${chat.language}${chat.topic ? `, topic: ${chat.topic}` : ''}`,
    `- CA: ${ca ? `${ca.name} (ICAI ${ca.membershipNo})` : '—'}`,
    `- Started: ${iso(chat.createdAt)}; matched: ${iso(chat.matchedAt)}; ended: ${iso(chat.endedAt)}`,
    '',
  ];
  for (const m of messages) {
    const body = m.file
      ? `📎 ${m.file.name} (${m.file.mime}, ${m.file.size} bytes, sha256 ${m.file.sha256})${m.text ? ` — ${m.text}` : ''}`
      : (m.text ?? '');
    lines.push(
      `**${who(m)}** · ${iso(m.createdAt)} · #${m.seq}`,
      '',
      body
        .split('\n')
        .map((l) => `> ${l}`)
        .join('\n'),
      '',
    );
  }
  return lines.join('\n');
}
