/**
 * The subset of Telegram Bot API objects the emulator produces, with Telegram's field names
 * (snake_case, dates in Unix seconds). Shapes follow https://core.telegram.org/bots/api.
 */

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

/** What `getMe` returns. */
export interface TgBotUser extends TgUser {
  is_bot: true;
  username: string;
  can_join_groups: boolean;
  can_read_all_group_messages: boolean;
  supports_inline_queries: boolean;
  can_connect_to_business: boolean;
  has_main_web_app: boolean;
}

/** The emulator only has private chats: a user's chat id equals the user id. */
export interface TgChat {
  id: number;
  type: 'private';
  first_name?: string;
  last_name?: string;
  username?: string;
}

export interface TgMessageEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
}

export interface TgInlineKeyboardButton {
  text: string;
  callback_data?: string;
  url?: string;
}

export interface TgInlineKeyboardMarkup {
  inline_keyboard: TgInlineKeyboardButton[][];
}

export interface TgPhotoSize {
  file_id: string;
  file_unique_id: string;
  width: number;
  height: number;
  file_size?: number;
}

export interface TgDocument {
  file_id: string;
  file_unique_id: string;
  file_name?: string;
  mime_type?: string;
  file_size?: number;
}

/** What `getFile` returns; download it from `/file/bot<token>/<file_path>`. */
export interface TgFile {
  file_id: string;
  file_unique_id: string;
  file_size?: number;
  file_path?: string;
}

export interface TgMessage {
  message_id: number;
  from?: TgUser;
  chat: TgChat;
  /** Unix seconds. */
  date: number;
  /** Unix seconds of the last edit. */
  edit_date?: number;
  text?: string;
  entities?: TgMessageEntity[];
  caption?: string;
  caption_entities?: TgMessageEntity[];
  document?: TgDocument;
  /** Available sizes, smallest first (the emulator keeps one: the original). */
  photo?: TgPhotoSize[];
  /** One level deep, as Telegram sends it. */
  reply_to_message?: TgMessage;
  reply_markup?: TgInlineKeyboardMarkup;
}

export interface TgCallbackQuery {
  id: string;
  from: TgUser;
  message?: TgMessage;
  chat_instance: string;
  data?: string;
}

export interface TgUpdate {
  update_id: number;
  message?: TgMessage;
  edited_message?: TgMessage;
  callback_query?: TgCallbackQuery;
}

/** The update kinds the emulator produces (keys of TgUpdate besides `update_id`). */
export type TgUpdateType = 'message' | 'edited_message' | 'callback_query';

export interface TgWebhookInfo {
  url: string;
  has_custom_certificate: boolean;
  pending_update_count: number;
  ip_address?: string;
  last_error_date?: number;
  last_error_message?: string;
  max_connections?: number;
  allowed_updates?: string[];
}

export interface TgBotCommand {
  command: string;
  description: string;
}

export interface TgResponseParameters {
  retry_after?: number;
  migrate_to_chat_id?: number;
}

export type TgResponse<T> =
  | { ok: true; result: T }
  | { ok: false; error_code: number; description: string; parameters?: TgResponseParameters };
