export {
  createConsoleChannel,
  type ConsoleChannel,
  type ConsoleChannelOptions,
} from './console-channel.js';
export { parseCommand, HELP_TEXT, type ConsoleCommand } from './commands.js';
