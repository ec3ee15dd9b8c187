import type { LanguageTag } from '../domain.js';
import { CaChatError } from '../errors.js';

/** A BCP-47 primary language tag (`en`, `hi`, `ta`…), lower case. */
export const LANGUAGE_TAG = /^[a-z]{2,3}$/;
export const TOPIC = /^[a-z0-9][a-z0-9_-]{0,39}$/;
export const MEMBERSHIP_NO = /^\d{6}$/;
/** Ids we accept from outside (client ids given by embedders, chat ids, file ids). */
export const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export const MAX_LANGUAGES = 20;
export const MAX_TOPICS = 20;
export const MAX_NAME_LENGTH = 100;
export const MAX_KEY_LENGTH = 200;
const MAX_FILE_NAME_LENGTH = 255;
const MIME = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function invalidInput(message: string): never {
  throw new CaChatError('invalid_input', message);
}

/** A non-empty string of bounded length, e.g. an id, a key, an address. */
export function requireString(value: unknown, what: string, maxLength = MAX_KEY_LENGTH): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    invalidInput(`${what} must be a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}

export function requireId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !SAFE_ID.test(value)) invalidInput(`${what} is not a valid id`);
  return value;
}

/** An optional idempotency key: null when absent. */
export function optionalKey(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return requireString(value, what);
}

export function normaliseLanguage(value: unknown, allowed: readonly LanguageTag[]): LanguageTag {
  const tag = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (!LANGUAGE_TAG.test(tag)) {
    throw new CaChatError(
      'unsupported_language',
      `${JSON.stringify(value)} is not a BCP-47 primary language tag`,
    );
  }
  if (allowed.length > 0 && !allowed.includes(tag)) {
    throw new CaChatError('unsupported_language', `language ${tag} is not offered here`, {
      details: { languages: [...allowed] },
    });
  }
  return tag;
}

export function normaliseLanguages(value: unknown, allowed: readonly LanguageTag[]): LanguageTag[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LANGUAGES) {
    invalidInput(`languages must be a list of 1 to ${MAX_LANGUAGES} language tags`);
  }
  return [...new Set(value.map((v) => normaliseLanguage(v, allowed)))];
}

export function normaliseTopic(value: unknown, allowed: readonly string[] | null): string {
  const topic = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (!TOPIC.test(topic)) invalidInput(`${JSON.stringify(value)} is not a valid topic`);
  if (allowed && !allowed.includes(topic)) invalidInput(`topic ${topic} is not offered here`);
  return topic;
}

export function normaliseTopics(value: unknown, allowed: readonly string[] | null): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_TOPICS)
    invalidInput(`topics must be a list of at most ${MAX_TOPICS}`);
  return [...new Set(value.map((v) => normaliseTopic(v, allowed)))];
}

export function optionalTopic(value: unknown, allowed: readonly string[] | null): string | null {
  if (value === undefined || value === null || value === '') return null;
  return normaliseTopic(value, allowed);
}

/** Message text: never empty or whitespace only, never longer than the limit. */
export function validateText(value: unknown, maxLength: number): string {
  if (typeof value !== 'string') invalidInput('text must be a string');
  if (value.trim().length === 0) throw new CaChatError('empty_text', 'text is empty');
  if (value.length > maxLength) {
    throw new CaChatError('text_too_long', `text is longer than ${maxLength} characters`, {
      details: { maxTextLength: maxLength },
    });
  }
  return value;
}

export function validateName(value: unknown, what = 'name'): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    invalidInput(`${what} must be 1 to ${MAX_NAME_LENGTH} characters`);
  }
  return name;
}

export function validateMembershipNo(value: unknown): string {
  const no = typeof value === 'string' ? value.trim() : '';
  if (!MEMBERSHIP_NO.test(no)) {
    throw new CaChatError('invalid_membership_no', 'an ICAI membership number is exactly 6 digits');
  }
  return no;
}

export function validateMaxChats(value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    invalidInput(`maxChats must be a whole number from 1 to ${max}`);
  }
  return value;
}

/** A file name safe to show and to put in a header: no paths, no control characters. */
export function validateFileName(value: unknown): string {
  if (typeof value !== 'string') invalidInput('file name must be a string');
  // eslint-disable-next-line no-control-regex
  const base = (value.split(/[\\/]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (base.length === 0 || base.length > MAX_FILE_NAME_LENGTH || base === '.' || base === '..') {
    invalidInput(`file name must be 1 to ${MAX_FILE_NAME_LENGTH} characters`);
  }
  return base;
}

export function validateMime(value: unknown): string {
  if (value === undefined || value === null || value === '') return 'application/octet-stream';
  if (typeof value !== 'string') invalidInput('mime type must be a string');
  const mime = value.split(';')[0]!.trim().toLowerCase();
  if (!MIME.test(mime)) invalidInput(`${JSON.stringify(value)} is not a mime type`);
  return mime;
}
