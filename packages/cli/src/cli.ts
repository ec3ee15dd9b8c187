import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { CaChatError } from '@ca-chat/core';
import { registerAdminCommands } from './admin-commands.js';
import { createLogger } from './logger.js';
import { OPTION_SPECS, resolveConfig, type ServeConfig } from './options.js';
import { startServer, type RunningServer } from './serve.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Called once the server runs (tests use it; the bin installs signal handlers). */
  onServing?: (server: RunningServer) => void;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('ca-chat')
    .description('Connect clients on a web page with Chartered Accountants on Telegram.')
    .version('0.1.0')
    .showHelpAfterError()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  const serve = program
    .command('serve')
    .description('serve the client page, the WebSocket/HTTP API and the Telegram bot')
    .option(
      '--config <file>',
      'JSON config file whose keys are the option names below (env CA_CHAT_CONFIG; default ./ca-chat.config.json if present)',
    );
  for (const spec of OPTION_SPECS) {
    const flags = spec.kind === 'bool' ? spec.flag : `${spec.flag} <${spec.arg ?? 'value'}>`;
    const shown = spec.key === 'telegramToken' ? 'none' : JSON.stringify(spec.default);
    const option = new Option(
      flags,
      `${spec.description} (env ${spec.env}; config key "${spec.key}"; default ${shown})`,
    );
    if (spec.choices) option.choices(spec.choices);
    serve.addOption(option);
  }
  serve.action(async (flags: Record<string, unknown>) => {
    const config = loadConfig(flags, io.env);
    const logger = createLogger(config);
    const server = await startServer(config, logger);
    io.out(describeServing(server, config));
    io.onServing?.(server);
  });

  registerAdminCommands(program, io.out);
  return program;
}

export function loadConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): ServeConfig {
  const configPath =
    (flags.config as string | undefined) ??
    env.CA_CHAT_CONFIG ??
    (existsSync('ca-chat.config.json') ? 'ca-chat.config.json' : undefined);
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(resolve(configPath), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new CaChatError(
        'config_invalid',
        `cannot read config file ${configPath}: ${(error as Error).message}`,
      );
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) {
      throw new CaChatError('config_invalid', `config file ${configPath} must hold a JSON object`);
    }
  }
  const picked: Record<string, unknown> = {};
  for (const spec of OPTION_SPECS) {
    const value = flags[attributeName(spec.flag)];
    if (value !== undefined) picked[spec.key] = value;
  }
  return resolveConfig({ flags: picked, env, file });
}

function describeServing(server: RunningServer, config: ServeConfig): string {
  const lines = [`ca-chat is serving at ${server.url}`];
  if (config.demo && server.emulator) {
    lines.push(
      '',
      `  Client page:            ${server.url}/`,
      `  CA view (emulated Telegram): ${server.emulator.url}/`,
      '',
      'Open both in two browser tabs: register as a CA with /start in the CA view,',
      'then ask for a chat in the client page. Data dir: ' + server.dataDir,
    );
  }
  lines.push('Press Ctrl+C to stop.');
  return lines.join('\n') + '\n';
}

/** The property commander stores a flag's value under: `--data-dir` → `dataDir`. */
function attributeName(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
