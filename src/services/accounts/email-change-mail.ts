/**
 * The two mails of an e-mail change (CONTRACT §10): the link to the NEW address, and the notice to the OLD
 * one once the change is done. Pure functions of the recipient and the link or address, so a later step can
 * render them in the user's language. The new address is not verified yet, so its mail carries no text the
 * requester chose (CONTRACT §6): no name, no old address.
 */
import type { MailMessage } from '../mail.ts';

export function emailChangeConfirmationMessage(to: string, link: string, ttlHours: number): MailMessage {
  return {
    to,
    subject: 'Confirm your new e-mail address',
    text: [
      'Hello,',
      '',
      'Someone (hopefully you) asked to use this address for their account. To confirm the change, open this link:',
      link,
      '',
      `The link works once and expires in ${ttlHours} hours. If you did not ask for it, ignore this message: nothing changes.`,
    ].join('\n'),
  };
}

export function emailChangedNoticeMessage(to: string, newEmail: string): MailMessage {
  return {
    to,
    subject: 'Your e-mail address was changed',
    text: [
      'Hello,',
      '',
      `The e-mail address of your account was changed to ${newEmail}. Messages about the account now go there.`,
      '',
      'If you did not make this change, contact support at once: someone else may have access to your account.',
    ].join('\n'),
  };
}
