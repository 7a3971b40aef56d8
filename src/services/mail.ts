import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Transporter } from 'nodemailer';
import type { Logger } from '../logger.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface MailServiceOptions {
  /** `smtp://user:pass@host:port` (or smtps://); unset writes .eml files into `outboxDir` instead. */
  smtpUrl?: string;
  from: string;
  outboxDir: string;
  logger: Logger;
}

/**
 * Outgoing e-mail through nodemailer: SMTP when SMTP_URL is set, otherwise one `.eml` file per message in
 * the outbox folder (the embedded default), readable by any mail client. The files hold one-time links,
 * so they are private to the server's user.
 */
export function createMailService(options: MailServiceOptions) {
  const log = options.logger.child({ component: 'mail' });
  // nodemailer is loaded with the first mail, not at start: a process may send none for hours, and its code
  // (about 5 MB of heap) would be marked by every major garbage collection meanwhile (bench/README.md).
  let transport: Promise<Transporter> | undefined;
  const transportFor = (): Promise<Transporter> =>
    (transport ??= import('nodemailer').then(({ createTransport }) =>
      options.smtpUrl
        ? createTransport(options.smtpUrl, { from: options.from })
        : createTransport({ streamTransport: true, buffer: true, newline: 'unix' }, { from: options.from }),
    ));

  return {
    mode: options.smtpUrl ? ('smtp' as const) : ('outbox' as const),

    async send(message: MailMessage): Promise<void> {
      const info = await (await transportFor()).sendMail(message);
      if (options.smtpUrl) {
        log.info({ messageId: info.messageId, subject: message.subject }, 'mail sent');
        return;
      }
      const raw = (info as { message?: unknown }).message;
      if (!Buffer.isBuffer(raw)) throw new Error('stream transport returned no message buffer');
      await mkdir(options.outboxDir, { recursive: true, mode: 0o700 });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}.eml`;
      const file = path.join(options.outboxDir, name);
      await writeFile(file, raw, { mode: 0o600 });
      log.info({ file, subject: message.subject }, 'mail written to the outbox');
    },

    close(): void {
      // A transport that could not be made has nothing to close (its send already failed, and was reported).
      void transport?.then((opened) => opened.close(), () => undefined);
    },
  };
}

export type MailService = ReturnType<typeof createMailService>;
