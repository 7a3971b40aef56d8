import { expect } from 'chai';
import { createI18n } from '../../src/services/i18n.ts';
import { passwordResetMessage, verificationMessage } from '../../src/services/accounts/mail.ts';

describe('account mails in the requester’s language (src/services/account-mail.ts)', () => {
  const i18n = createI18n({ locales: ['en', 'de'] });
  const unverified = { email: 'erika@example.test', full_name: 'Erika\nClick https://evil.example', username: 'erika', email_verified: false };
  const verified = { ...unverified, full_name: 'Erika Mustermann', email_verified: true };

  it('writes the verification mail in German, counting hours in German, without the requester’s text to an unverified address', () => {
    const mail = verificationMessage(i18n.translator('de'), unverified, 'https://idp.example/verify?token=t', 24);
    expect(mail.subject).to.equal('Bestätigen Sie Ihre E-Mail-Adresse');
    expect(mail.text.split('\n')).to.deep.equal([
      'Guten Tag,',
      '',
      'Bitte bestätigen Sie Ihre E-Mail-Adresse, indem Sie diesen Link öffnen:',
      'https://idp.example/verify?token=t',
      '',
      'Der Link funktioniert einmal und läuft in 24 Stunden ab. Wenn Sie kein Konto angelegt haben, ignorieren Sie diese Nachricht einfach.',
    ]);
    expect(verificationMessage(i18n.translator('en'), unverified, 'x', 1).text).to.include('expires in 1 hour.');
  });

  it('greets a verified holder by name, in the mail’s language', () => {
    const german = passwordResetMessage(i18n.translator('de'), verified, 'https://idp.example/reset?token=t', 60);
    expect(german.subject).to.equal('Setzen Sie Ihr Passwort zurück');
    expect(german.text).to.match(/^Guten Tag Erika Mustermann,\n/).and.include('läuft in 60 Minuten ab');
    const english = passwordResetMessage(i18n.translator('en'), verified, 'https://idp.example/reset?token=t', 60);
    expect(english.subject).to.equal('Reset your password');
    expect(english.text).to.match(/^Hello Erika Mustermann,\n/).and.include('expires in 60 minutes');
  });
});
