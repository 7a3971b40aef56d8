import type { Logger } from '../../logger.ts';
import type { MailMessage } from '../mail.ts';
import type { Translate } from '../i18n.ts';
import { settlePending } from '../settle.ts';

/** Where the links in our e-mails point; the door that asked for the mail knows its own URLs. */
export interface AccountLinks {
  verifyEmail(token: string): string;
  resetPassword(token: string): string;
}

export interface Recipient {
  email: string;
  full_name: string | null;
  username: string | null;
  /** Whether the address is proven to be the account holder's. */
  email_verified: boolean;
}

/**
 * Anyone may register any address, so a mail to an address not yet verified carries no text the
 * requester chose (CONTRACT §6): no name, which could be a message of its own with lines and links.
 * A verified holder is greeted by name, on one line. (The language is the requester's choice, but it
 * only picks one of our own catalogues.)
 */
function greeting(t: Translate, to: Recipient): string {
  const name = to.email_verified ? (to.full_name || to.username || '').replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\s]+/gu, ' ').trim().slice(0, 100) : '';
  return name ? t('mail:greetingWithName', { name }) : t('mail:greeting');
}

/** The verification mail, in the language of `t` (`locales/<lang>/mail.json`). */
export function verificationMessage(t: Translate, to: Recipient, link: string, ttlHours: number): MailMessage {
  return {
    to: to.email,
    subject: t('mail:verify.subject'),
    text: [greeting(t, to), '', t('mail:verify.intro'), link, '', t('mail:verify.expiry', { count: ttlHours })].join('\n'),
  };
}

/** The password-reset mail, in the language of `t`. */
export function passwordResetMessage(t: Translate, to: Recipient, link: string, ttlMinutes: number): MailMessage {
  return {
    to: to.email,
    subject: t('mail:reset.subject'),
    text: [greeting(t, to), '', t('mail:reset.intro'), link, '', t('mail:reset.expiry', { count: ttlMinutes })].join('\n'),
  };
}

/**
 * Mail that leaves in the background: the HTTP answer must not wait for (or reveal, by its timing)
 * whether a message was sent. Failures are logged; `settle()` lets tests and shutdown wait for the queue.
 */
export function createMailQueue(send: (message: MailMessage) => Promise<void>, logger: Logger) {
  const pending = new Set<Promise<void>>();
  return {
    enqueue(message: MailMessage): void {
      const task = send(message)
        .catch((err: unknown) => logger.error({ err, subject: message.subject }, 'mail could not be sent'))
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    /** Waits for the mail in flight, at most `timeoutMs` (shutdown must not hang on a slow SMTP server). */
    settle: (timeoutMs = 5000): Promise<void> => settlePending(pending, timeoutMs),
  };
}

export type MailQueue = ReturnType<typeof createMailQueue>;
