import { Bot, GrammyError } from 'grammy';
import { type AlertChannel, channelError } from './channel';
import type { TelegramConfig } from './config';
import type { FormattedAlert } from './format';
import { type BucketClock, systemClock, TokenBucket } from './rate-limit';

/**
 * Telegram's limits (core.telegram.org/bots/faq "My bot is hitting limits"): about one
 * message a second in a chat, 20 a minute in a group or channel. One token bucket per chat.
 */
export const TELEGRAM_RATE = {
  chat: { capacity: 1, intervalMs: 1_000 },
  group: { capacity: 1, intervalMs: 3_000 },
};
/** Telegram refuses longer texts. */
const MAX_TEXT = 4096;
/** A Bot API call that does not answer within this is a failed send (retried). */
const TIMEOUT_SECONDS = 10;

/** The rate of a chat: private chats have positive ids; groups, supergroups and channels negative ids or an @username. */
export function telegramRateOf(chatId: string): { capacity: number; intervalMs: number } {
  return /^\d+$/.test(chatId) ? TELEGRAM_RATE.chat : TELEGRAM_RATE.group;
}

/**
 * Telegram through grammy's Bot API client (`sendMessage` to one chat, plain text). The Bot API
 * root is configurable (a local Bot API server, or a test's stand-in). A 429's `retry_after` is
 * honoured; every failure is a ChannelSendError whose message never holds the token (grammy
 * keeps URLs out of its errors; the token is also cut from any message as a second guard).
 */
export class TelegramChannel implements AlertChannel {
  readonly name = 'telegram' as const;
  private readonly bot: Bot;
  private readonly bucket: TokenBucket;

  constructor(private readonly config: TelegramConfig, clock: BucketClock = systemClock) {
    this.bot = new Bot(config.token, { client: { apiRoot: config.apiRoot, timeoutSeconds: TIMEOUT_SECONDS } });
    const rate = telegramRateOf(config.chatId);
    this.bucket = new TokenBucket(rate.capacity, rate.intervalMs, clock);
  }

  /** The chat and API root (never the token). */
  describe(): string {
    return `telegram chat ${this.config.chatId} via ${this.config.apiRoot}`;
  }

  /** @throws ChannelSendError when the Bot API refuses the message or does not answer */
  async send(alert: FormattedAlert): Promise<void> {
    await this.bucket.take();
    const text = alert.text.length > MAX_TEXT ? `${alert.text.slice(0, MAX_TEXT - 1)}…` : alert.text;
    try {
      await this.bot.api.sendMessage(this.config.chatId, text, { link_preview_options: { is_disabled: true } });
    } catch (e) {
      const message = String((e as Error).message ?? e).split(this.config.token).join('<token>');
      const retryAfter = e instanceof GrammyError ? e.parameters.retry_after : undefined;
      throw channelError('telegram', message, retryAfter !== undefined ? retryAfter * 1000 : undefined);
    }
  }
}
