import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The alerter's configuration is unusable: `field` names the variable, `reason` says why (never a secret's value). */
export class AlerterConfigError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'AlerterConfigError';
  }
}

/** Where the Bot API is unless BULWARK_TELEGRAM_API_ROOT says otherwise. */
export const TELEGRAM_API_ROOT = 'https://api.telegram.org';

/** The key-value bucket of alerts sent (deploy/nats/permissions.js lets user `alerter` write only this one). */
export const ALERTS_SENT_BUCKET = 'bulwark-alerts-sent';

/** Telegram: the bot's token (a secret), the chat it writes to and the Bot API root. */
export interface TelegramConfig {
  token: string;
  /** A numeric chat id (negative for groups and channels) or `@channelusername`. */
  chatId: string;
  apiRoot: string;
}

/** The generic webhook: where alerts are POSTed and the HMAC-SHA256 key that signs them (a secret). */
export interface WebhookConfig {
  url: string;
  secret: string;
}

/** Every setting of the alerter; a channel that is null is not configured (its alerts are logged, not sent). */
export interface AlerterConfig {
  telegram: TelegramConfig | null;
  webhook: WebhookConfig | null;
  /** BULWARK_ALERTS_BUCKET (default {@link ALERTS_SENT_BUCKET}). */
  bucket: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** An http(s) URL; plain http only to loopback, so an alert and its signature never cross a network in clear. */
const HttpUrl = z
  .string()
  .url('expected an absolute URL')
  .refine((u) => {
    if (!URL.canParse(u)) return true; // .url() reports it
    const p = new URL(u);
    return p.protocol === 'https:' || (p.protocol === 'http:' && LOOPBACK.has(p.hostname));
  }, 'expected https://… (plain http only to 127.0.0.1, localhost or [::1])');

const Env = z.object({
  BULWARK_TELEGRAM_TOKEN_FILE: z.string().min(1).optional(),
  BULWARK_TELEGRAM_CHAT_ID: z
    .string()
    .regex(/^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$/, 'expected a numeric chat id (negative for groups) or @channelusername')
    .optional(),
  BULWARK_TELEGRAM_API_ROOT: HttpUrl.optional(),
  BULWARK_WEBHOOK_URL: HttpUrl.optional(),
  BULWARK_WEBHOOK_SECRET_FILE: z.string().min(1).optional(),
  BULWARK_ALERTS_BUCKET: z.string().regex(/^[-\w]{1,64}$/, 'expected a key-value bucket name ([A-Za-z0-9_-], 1..64)').optional(),
});

/** A secret from a file, trimmed; the error names the variable and the errno, never the content. */
function secretFile(field: string, file: string): string {
  let v: string;
  try {
    v = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new AlerterConfigError(field, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!v) throw new AlerterConfigError(field, `${file} is empty`);
  return v;
}

/**
 * Read the alerter's configuration from the environment (empty values count as unset):
 * - Telegram: BULWARK_TELEGRAM_TOKEN_FILE (a file holding the bot token `<bot id>:<secret>`),
 *   BULWARK_TELEGRAM_CHAT_ID, BULWARK_TELEGRAM_API_ROOT (default https://api.telegram.org; a
 *   local Bot API server or a test stand-in). Token file and chat id go together.
 * - Webhook: BULWARK_WEBHOOK_URL (https, or http to loopback), BULWARK_WEBHOOK_SECRET_FILE (a
 *   file holding the HMAC key, at least 32 characters). Both or neither.
 * - BULWARK_ALERTS_BUCKET: the key-value bucket of alerts sent (default bulwark-alerts-sent).
 * @throws AlerterConfigError naming the variable and the reason (never a secret's value)
 */
export function alerterConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AlerterConfig {
  const set = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in Env.shape && v !== undefined && v.trim() !== '').map(([k, v]) => [k, v!.trim()]));
  const parsed = Env.safeParse(set);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AlerterConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  let telegram: TelegramConfig | null = null;
  if (e.BULWARK_TELEGRAM_TOKEN_FILE || e.BULWARK_TELEGRAM_CHAT_ID) {
    if (!e.BULWARK_TELEGRAM_TOKEN_FILE) throw new AlerterConfigError('BULWARK_TELEGRAM_TOKEN_FILE', 'required with BULWARK_TELEGRAM_CHAT_ID (a file holding the bot token)');
    if (!e.BULWARK_TELEGRAM_CHAT_ID) throw new AlerterConfigError('BULWARK_TELEGRAM_CHAT_ID', 'required with BULWARK_TELEGRAM_TOKEN_FILE (the chat the bot writes to)');
    const token = secretFile('BULWARK_TELEGRAM_TOKEN_FILE', e.BULWARK_TELEGRAM_TOKEN_FILE);
    if (!/^\d{1,20}:[A-Za-z0-9_-]{20,100}$/.test(token)) throw new AlerterConfigError('BULWARK_TELEGRAM_TOKEN_FILE', 'the file does not hold a bot token (<bot id>:<secret>, as @BotFather gives it)');
    telegram = { token, chatId: e.BULWARK_TELEGRAM_CHAT_ID, apiRoot: (e.BULWARK_TELEGRAM_API_ROOT ?? TELEGRAM_API_ROOT).replace(/\/+$/, '') };
  } else if (e.BULWARK_TELEGRAM_API_ROOT) {
    throw new AlerterConfigError('BULWARK_TELEGRAM_API_ROOT', 'set without BULWARK_TELEGRAM_TOKEN_FILE and BULWARK_TELEGRAM_CHAT_ID');
  }
  let webhook: WebhookConfig | null = null;
  if (e.BULWARK_WEBHOOK_URL || e.BULWARK_WEBHOOK_SECRET_FILE) {
    if (!e.BULWARK_WEBHOOK_URL) throw new AlerterConfigError('BULWARK_WEBHOOK_URL', 'required with BULWARK_WEBHOOK_SECRET_FILE');
    if (!e.BULWARK_WEBHOOK_SECRET_FILE) throw new AlerterConfigError('BULWARK_WEBHOOK_SECRET_FILE', 'required with BULWARK_WEBHOOK_URL: every webhook is signed (a file holding the HMAC key)');
    const secret = secretFile('BULWARK_WEBHOOK_SECRET_FILE', e.BULWARK_WEBHOOK_SECRET_FILE);
    if (secret.length < 32) throw new AlerterConfigError('BULWARK_WEBHOOK_SECRET_FILE', 'the key must be at least 32 characters (e.g. openssl rand -hex 32)');
    webhook = { url: e.BULWARK_WEBHOOK_URL, secret };
  }
  return { telegram, webhook, bucket: e.BULWARK_ALERTS_BUCKET ?? ALERTS_SENT_BUCKET };
}
