/**
 * The two mails of an e-mail change (CONTRACT §10): the link to the NEW address, and the notice to the OLD
 * one once the change is done, in the language of `t` (`locales/<lang>/mail.json`). The new address is not
 * verified yet, so its mail carries no text the requester chose (CONTRACT §6): no name, no old address.
 */
import type { MailMessage } from '../mail.ts';
import type { Translate } from '../i18n.ts';

export function emailChangeConfirmationMessage(t: Translate, to: string, link: string, ttlHours: number): MailMessage {
  return {
    to,
    subject: t('mail:emailChange.subject'),
    text: [t('mail:greeting'), '', t('mail:emailChange.intro'), link, '', t('mail:emailChange.expiry', { count: ttlHours })].join('\n'),
  };
}

export function emailChangedNoticeMessage(t: Translate, to: string, newEmail: string): MailMessage {
  return {
    to,
    subject: t('mail:emailChanged.subject'),
    text: [t('mail:greeting'), '', t('mail:emailChanged.body', { email: newEmail }), '', t('mail:emailChanged.warning')].join('\n'),
  };
}
