import { CaChatError } from '@ca-chat/core';

/**
 * Every setting of `ca-chat serve`: a flag, an environment variable and a config-file key,
 * resolved in that order of precedence, then the default.
 */
export interface ServeConfig {
  host: string;
  port: number;
  dataDir: string;
  telegramToken: string | null;
  telegramApiRoot: string;
  webhookUrl: string | null;
  webhookSecret: string | null;
  languages: string[];
  topics: string[];
  registrationMode: 'approval' | 'invite' | 'open';
  adminIds: number[];
  routing: 'broadcast' | 'round-robin';
  offerTimeoutMs: number;
  matchTimeoutMs: number;
  clientGraceMs: number;
  idleChatTimeoutMs: number;
  maxFileBytes: number;
  maxTextLength: number;
  retentionDays: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  logFormat: 'auto' | 'json' | 'pretty';
  webClient: string | null;
  publicUrl: string | null;
  shutdownTimeoutMs: number;
  demo: boolean;
  emulatorPort: number;
}

type Kind = 'string' | 'int' | 'list' | 'bool';

export interface OptionSpec {
  key: keyof ServeConfig;
  flag: string;
  env: string;
  kind: Kind;
  description: string;
  default: unknown;
  choices?: readonly string[];
  /** Placeholder for the flag's value in --help. */
  arg?: string;
}

const MB = 1024 * 1024;

export const OPTION_SPECS: OptionSpec[] = [
  {
    key: 'host',
    flag: '--host',
    env: 'CA_CHAT_HOST',
    kind: 'string',
    arg: 'host',
    default: '127.0.0.1',
    description: 'address the HTTP/WebSocket server listens on',
  },
  {
    key: 'port',
    flag: '--port',
    env: 'CA_CHAT_PORT',
    kind: 'int',
    arg: 'port',
    default: 8080,
    description: 'port of the HTTP/WebSocket server (0 = any free port)',
  },
  {
    key: 'dataDir',
    flag: '--data-dir',
    env: 'CA_CHAT_DATA_DIR',
    kind: 'string',
    arg: 'dir',
    default: './data',
    description: 'folder for the database, uploaded files and the admin token',
  },
  {
    key: 'telegramToken',
    flag: '--telegram-token',
    env: 'TELEGRAM_BOT_TOKEN',
    kind: 'string',
    arg: 'token',
    default: null,
    description: 'the Telegram bot token from @BotFather (required unless --demo)',
  },
  {
    key: 'telegramApiRoot',
    flag: '--telegram-api-root',
    env: 'CA_CHAT_TELEGRAM_API_ROOT',
    kind: 'string',
    arg: 'url',
    default: 'https://api.telegram.org',
    description: 'Bot API root (point it at an emulator or a local Bot API server)',
  },
  {
    key: 'webhookUrl',
    flag: '--webhook-url',
    env: 'CA_CHAT_WEBHOOK_URL',
    kind: 'string',
    arg: 'url',
    default: null,
    description: 'public HTTPS URL for Telegram webhooks (default: long polling)',
  },
  {
    key: 'webhookSecret',
    flag: '--webhook-secret',
    env: 'CA_CHAT_WEBHOOK_SECRET',
    kind: 'string',
    arg: 'secret',
    default: null,
    description: 'secret token Telegram sends with each webhook call (required with --webhook-url)',
  },
  {
    key: 'languages',
    flag: '--languages',
    env: 'CA_CHAT_LANGUAGES',
    kind: 'list',
    arg: 'codes',
    default: ['en', 'hi'],
    description: 'languages offered, comma-separated ISO 639-1 codes',
  },
  {
    key: 'topics',
    flag: '--topics',
    env: 'CA_CHAT_TOPICS',
    kind: 'list',
    arg: 'topics',
    default: ['gst', 'income-tax', 'audit', 'company-law'],
    description: 'topics a client may pick, comma-separated',
  },
  {
    key: 'registrationMode',
    flag: '--registration',
    env: 'CA_CHAT_REGISTRATION',
    kind: 'string',
    arg: 'mode',
    choices: ['approval', 'invite', 'open'],
    default: 'approval',
    description:
      'how CAs are admitted: approval by an admin, one-time invite codes, or open (demo only)',
  },
  {
    key: 'adminIds',
    flag: '--admin-ids',
    env: 'CA_CHAT_ADMIN_IDS',
    kind: 'list',
    arg: 'ids',
    default: [],
    description: 'Telegram user ids that get Approve/Reject buttons for new CAs',
  },
  {
    key: 'routing',
    flag: '--routing',
    env: 'CA_CHAT_ROUTING',
    kind: 'string',
    arg: 'strategy',
    choices: ['broadcast', 'round-robin'],
    default: 'broadcast',
    description: 'offer a chat to every eligible CA at once, or to one at a time',
  },
  {
    key: 'offerTimeoutMs',
    flag: '--offer-timeout-ms',
    env: 'CA_CHAT_OFFER_TIMEOUT_MS',
    kind: 'int',
    arg: 'ms',
    default: 60_000,
    description: 'round-robin: how long one CA has to accept',
  },
  {
    key: 'matchTimeoutMs',
    flag: '--match-timeout-ms',
    env: 'CA_CHAT_MATCH_TIMEOUT_MS',
    kind: 'int',
    arg: 'ms',
    default: 300_000,
    description: 'a waiting chat ends with no_ca_available after this',
  },
  {
    key: 'clientGraceMs',
    flag: '--client-grace-ms',
    env: 'CA_CHAT_CLIENT_GRACE_MS',
    kind: 'int',
    arg: 'ms',
    default: 120_000,
    description: 'how long a disconnected client has to come back',
  },
  {
    key: 'idleChatTimeoutMs',
    flag: '--idle-chat-timeout-ms',
    env: 'CA_CHAT_IDLE_CHAT_TIMEOUT_MS',
    kind: 'int',
    arg: 'ms',
    default: 0,
    description: 'an active chat nobody wrote in for this long ends with timeout (0: never)',
  },
  {
    key: 'maxFileBytes',
    flag: '--max-file-bytes',
    env: 'CA_CHAT_MAX_FILE_BYTES',
    kind: 'int',
    arg: 'bytes',
    default: 50 * MB,
    description: 'largest file a client or CA may send',
  },
  {
    key: 'maxTextLength',
    flag: '--max-text-length',
    env: 'CA_CHAT_MAX_TEXT_LENGTH',
    kind: 'int',
    arg: 'chars',
    default: 8000,
    description: 'longest text message',
  },
  {
    key: 'retentionDays',
    flag: '--retention-days',
    env: 'CA_CHAT_RETENTION_DAYS',
    kind: 'int',
    arg: 'days',
    default: 0,
    description: 'delete ended chats, their messages and files after this many days (0 = keep)',
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: 'CA_CHAT_LOG_LEVEL',
    kind: 'string',
    arg: 'level',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    default: 'info',
    description: 'log level',
  },
  {
    key: 'logFormat',
    flag: '--log-format',
    env: 'CA_CHAT_LOG_FORMAT',
    kind: 'string',
    arg: 'format',
    choices: ['auto', 'json', 'pretty'],
    default: 'auto',
    description: 'json lines, pretty, or auto (pretty when stdout is a terminal)',
  },
  {
    key: 'webClient',
    flag: '--web-client',
    env: 'CA_CHAT_WEB_CLIENT',
    kind: 'string',
    arg: 'dir|off',
    default: 'builtin',
    description: "folder served at / ('builtin' = the bundled client page, 'off' = none)",
  },
  {
    key: 'publicUrl',
    flag: '--public-url',
    env: 'CA_CHAT_PUBLIC_URL',
    kind: 'string',
    arg: 'url',
    default: null,
    description: 'base URL clients use to reach this server (for file links)',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: '--shutdown-timeout-ms',
    env: 'CA_CHAT_SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    arg: 'ms',
    default: 10_000,
    description: 'how long SIGTERM waits for uploads and deliveries to finish',
  },
  {
    key: 'demo',
    flag: '--demo',
    env: 'CA_CHAT_DEMO',
    kind: 'bool',
    default: false,
    description: 'run everything locally with the Telegram emulator (no real Telegram)',
  },
  {
    key: 'emulatorPort',
    flag: '--emulator-port',
    env: 'CA_CHAT_EMULATOR_PORT',
    kind: 'int',
    arg: 'port',
    default: 8081,
    description: 'demo: port of the Telegram emulator and its CA view',
  },
];

const LANGUAGE_TAG = /^[a-z]{2,3}$/;

export type Sources = {
  flags: Partial<Record<keyof ServeConfig, unknown>>;
  env: NodeJS.ProcessEnv;
  file: Record<string, unknown>;
};

/** Resolves every option from its sources and validates it; throws `config_invalid`. */
export function resolveConfig(sources: Sources): ServeConfig {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  const knownKeys = new Set(OPTION_SPECS.map((s) => s.key as string));
  for (const key of Object.keys(sources.file)) {
    if (!knownKeys.has(key)) problems.push(`config file: unknown key "${key}"`);
  }
  for (const spec of OPTION_SPECS) {
    const origin: Array<[string, unknown]> = [
      [spec.flag, sources.flags[spec.key]],
      [spec.env, sources.env[spec.env]],
      [`config key "${spec.key}"`, sources.file[spec.key]],
    ];
    const found = origin.find(([, v]) => v !== undefined && v !== '');
    if (!found) {
      out[spec.key] = spec.default;
      continue;
    }
    const [where, raw] = found;
    try {
      out[spec.key] = parseValue(spec, raw);
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  }
  const config = out as unknown as ServeConfig;
  if (problems.length === 0) problems.push(...validate(config));
  if (problems.length > 0) {
    throw new CaChatError('config_invalid', problems.join('\n'), { details: { problems } });
  }
  return config;
}

function parseValue(spec: OptionSpec, raw: unknown): unknown {
  switch (spec.kind) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (!Number.isInteger(n) || n < 0)
        throw new Error(`expected a whole number ≥ 0, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      return items.map((s) => s.trim()).filter((s) => s.length > 0);
    }
    case 'string': {
      const value = String(raw).trim();
      if (spec.choices && !spec.choices.includes(value)) {
        throw new Error(`expected one of ${spec.choices.join(', ')}, got ${JSON.stringify(value)}`);
      }
      return value;
    }
  }
}

function validate(config: ServeConfig): string[] {
  const problems: string[] = [];
  if (config.port > 65535) problems.push(`--port: ${config.port} is not a port (0–65535)`);
  if (config.emulatorPort > 65535)
    problems.push(`--emulator-port: ${config.emulatorPort} is not a port (0–65535)`);
  if (config.languages.length === 0) problems.push('--languages: give at least one language');
  for (const lang of config.languages) {
    if (!LANGUAGE_TAG.test(lang)) {
      problems.push(
        `--languages: "${lang}" is not a language code (use ISO 639-1 codes such as en, hi, ta)`,
      );
    } else if (!LANGUAGE_NAMES[lang]) {
      problems.push(
        `--languages: unknown language code "${lang}" (known: ${Object.keys(LANGUAGE_NAMES).join(', ')})`,
      );
    }
  }
  const ids = config.adminIds as unknown as string[];
  const parsedIds: number[] = [];
  for (const id of ids) {
    const n = Number(id);
    if (!Number.isSafeInteger(n) || n <= 0)
      problems.push(`--admin-ids: "${id}" is not a Telegram user id`);
    else parsedIds.push(n);
  }
  config.adminIds = parsedIds;
  if (!config.demo && !config.telegramToken) {
    problems.push(
      'no Telegram bot token: set TELEGRAM_BOT_TOKEN or --telegram-token (or try `ca-chat serve --demo`)',
    );
  }
  if (config.webhookUrl && !config.webhookSecret)
    problems.push('--webhook-url needs --webhook-secret');
  if (config.webhookUrl && !/^https?:\/\//.test(config.webhookUrl))
    problems.push('--webhook-url must be an http(s) URL');
  if (config.maxFileBytes < 1) problems.push('--max-file-bytes must be at least 1');
  if (config.maxTextLength < 1) problems.push('--max-text-length must be at least 1');
  return problems;
}

/** Display names of the languages a deployment may offer (ISO 639-1). */
export const LANGUAGE_NAMES: Record<string, string> = {
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
  sa: 'संस्कृतम् (Sanskrit)',
  ne: 'नेपाली (Nepali)',
  sd: 'سنڌي (Sindhi)',
  kok: 'कोंकणी (Konkani)',
  mai: 'मैथिली (Maithili)',
};
