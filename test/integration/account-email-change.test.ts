/**
 * Changing one's e-mail address (CONTRACT §10): a single-use link goes to the NEW address and the change
 * happens only when it is followed (lower-case, verified, the account cache fresh); the OLD address is told;
 * taken addresses are refused, at the request and, in a race, by the unique index; an address gets at most
 * its hourly share of mails (§6). Both modes, real mail through an in-process SMTP server.
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../helpers/smtp.ts';
import { createUser } from '../helpers/admin-api.ts';
import {
  EmailTakenError,
  EmailUnchangedError,
  InvalidEmailChangeTokenError,
  InvalidEmailError,
  type EmailChangeLinks,
} from '../../src/services/accounts/email-change.ts';
import { RateLimitedError } from '../../src/errors.ts';
import { AccountInactiveError, InvalidCredentialsError } from '../../src/services/accounts/errors.ts';

const PASSWORD = 'correct horse battery';
const ctx = { door: 'interaction', ip: '127.0.0.1' };
const links: EmailChangeLinks = { confirmEmailChange: (token) => `https://idp.test/account/email/confirm?token=${token}` };

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return undefined;
}

function tokenOf(mail: ReceivedMail): string {
  const match = /https:\/\/idp\.test\/account\/email\/confirm\?token=([A-Za-z0-9_-]+)/.exec(mail.text);
  if (!match?.[1]) throw new Error(`no link in:\n${mail.text}`);
  return match[1];
}

for (const mode of MODES) {
  describe(`e-mail change (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let smtp: TestSmtpServer;
    let counter = 0;

    before(async function () {
      this.timeout(90_000);
      smtp = await startSmtpServer();
      server = await startTestServer({ database: mode.database, store: mode.store, mocha: this, env: { SMTP_URL: smtp.url } });
    });
    after(async () => {
      await server?.close();
      await smtp?.close();
    });

    async function someone(): Promise<{ id: string; email: string; username: string }> {
      counter += 1;
      const username = `changer${counter}-${mode.store}`;
      const email = `${username}@old.example`;
      return { id: await createUser(server, { email, username, password: PASSWORD }), email, username };
    }

    /** Asks for the change and returns the token from the mail the new address received. */
    async function requested(userId: string, to: string): Promise<string> {
      const seen = new Set(smtp.messages);
      const { email } = await server.deps.emailChange.request(userId, to, ctx, links);
      await server.deps.mailQueue.settle();
      return tokenOf(await smtp.waitFor((mail) => !seen.has(mail) && mail.to.includes(email) && mail.subject === 'Confirm your new e-mail address'));
    }

    it('mails a link to the new address; following it changes the address (lower-case, verified) and tells the old one', async () => {
      const user = await someone();
      const target = `New.Address.${counter}-${mode.store}@New.Example`;
      const stored = target.toLowerCase();
      // Cached before the change: the next read must not serve the old view.
      expect((await server.deps.accounts.getById(user.id))?.email).to.equal(user.email);
      const token = await requested(user.id, `  ${target} `);
      expect(await server.deps.emailChange.pending(token)).to.deep.equal({ userId: user.id, email: stored });
      expect((await server.deps.accounts.getById(user.id))?.email, 'nothing changes before the link is followed').to.equal(user.email);

      expect(await server.deps.emailChange.confirm(token, ctx)).to.deep.equal({ userId: user.id, email: stored, previousEmail: user.email });
      const view = await server.deps.accounts.getById(user.id);
      expect(view).to.include({ email: stored, email_verified: true });
      await server.deps.mailQueue.settle();
      const notice = await smtp.waitFor((mail) => mail.to.includes(user.email) && mail.subject === 'Your e-mail address was changed');
      expect(notice.text).to.include(`changed to ${stored}`);
      expect(notice.text).to.not.match(/https?:\/\//);

      // Sign-in by the new address works, by the old one no longer.
      expect((await server.deps.accounts.authenticate(stored, PASSWORD, ctx)).id).to.equal(user.id);
      expect(await rejected(server.deps.accounts.authenticate(user.email, PASSWORD, ctx))).to.be.instanceOf(InvalidCredentialsError);
      // The link works once.
      expect(await server.deps.emailChange.pending(token)).to.equal(undefined);
      expect(await rejected(server.deps.emailChange.confirm(token, ctx))).to.be.instanceOf(InvalidEmailChangeTokenError);

      await server.deps.audit.flush();
      const events = await server.deps.models.AuditEvent.findAll({ where: { userId: user.id, type: 'email_change', outcome: 'success' } });
      expect(events).to.have.length(1);
      expect(events[0]?.detail).to.deep.include({ from: user.email, to: stored });
    });

    it('writes both mails in the language of the request that caused each', async () => {
      const user = await someone();
      const target = `sprache${counter}-${mode.store}@new.example`;
      const seen = new Set(smtp.messages);
      await server.deps.emailChange.request(user.id, target, { ...ctx, locale: 'de' }, links);
      await server.deps.mailQueue.settle();
      const link = await smtp.waitFor((mail) => !seen.has(mail) && mail.to.includes(target));
      // The subject arrives MIME-encoded (non-ASCII); the body as text.
      expect(link.text).to.include('Um die Änderung zu bestätigen').and.include('läuft in 24 Stunden ab');
      await server.deps.emailChange.confirm(tokenOf(link), { ...ctx, locale: 'en' });
      await server.deps.mailQueue.settle();
      const notice = await smtp.waitFor((mail) => !seen.has(mail) && mail.to.includes(user.email));
      expect(notice.subject).to.equal('Your e-mail address was changed');
      expect(notice.text).to.include(`changed to ${target}`);
    });

    it('refuses a malformed address, the current one, and one another account uses as its e-mail or username', async () => {
      const user = await someone();
      const other = await someone();
      const named = `named${counter}@taken.example`;
      await createUser(server, { email: `holder${counter}-${mode.store}@x.example`, username: named, password: PASSWORD });
      expect(await rejected(server.deps.emailChange.request(user.id, 'not an address', ctx, links))).to.be.instanceOf(InvalidEmailError);
      expect(await rejected(server.deps.emailChange.request(user.id, user.email.toUpperCase(), ctx, links))).to.be.instanceOf(EmailUnchangedError);
      const taken = await rejected(server.deps.emailChange.request(user.id, other.email, ctx, links));
      expect(taken).to.be.instanceOf(EmailTakenError);
      expect(taken).to.have.property('status', 409);
      expect(await rejected(server.deps.emailChange.request(user.id, named, ctx, links))).to.be.instanceOf(EmailTakenError);
      expect(await rejected(server.deps.emailChange.confirm('not-a-token', ctx))).to.be.instanceOf(InvalidEmailChangeTokenError);
    });

    it('of two accounts confirming the same new address, one gets it and the other a clear 409', async () => {
      const [first, second] = [await someone(), await someone()];
      const target = `contested${counter}-${mode.store}@new.example`;
      const tokens = [await requested(first.id, target), await requested(second.id, target)];
      const results = await Promise.allSettled(tokens.map((token) => server.deps.emailChange.confirm(token, ctx)));
      expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(1);
      const failure = results.find((result) => result.status === 'rejected');
      expect(failure?.reason).to.be.instanceOf(EmailTakenError);
      const owners = await server.deps.models.User.count({ where: { email: target } });
      expect(owners).to.equal(1);
    });

    it('makes an older link stale once the address changed, and refuses a deactivated account', async () => {
      const user = await someone();
      const older = await requested(user.id, `first${counter}-${mode.store}@new.example`);
      const newer = await requested(user.id, `second${counter}-${mode.store}@new.example`);
      await server.deps.emailChange.confirm(newer, ctx);
      expect(await rejected(server.deps.emailChange.confirm(older, ctx))).to.be.instanceOf(InvalidEmailChangeTokenError);

      const later = await someone();
      const token = await requested(later.id, `later${counter}-${mode.store}@new.example`);
      await server.deps.accounts.setStatus(later.id, 'suspended', ctx);
      expect(await rejected(server.deps.emailChange.confirm(token, ctx))).to.be.instanceOf(InvalidEmailChangeTokenError);
      expect(await rejected(server.deps.emailChange.request(later.id, `again${counter}@new.example`, ctx, links))).to.be.instanceOf(AccountInactiveError);
    });

    it('sends one address at most 5 mails an hour: the 6th request is a 429 and sends nothing', async () => {
      const target = `bombed${counter}-${mode.store}@victim.example`;
      for (let i = 0; i < 5; i += 1) {
        const user = await someone();
        await server.deps.emailChange.request(user.id, target, ctx, links);
      }
      const user = await someone();
      const refused = await rejected(server.deps.emailChange.request(user.id, target, ctx, links));
      expect(refused).to.be.instanceOf(RateLimitedError);
      expect(refused).to.have.property('status', 429);
      await server.deps.mailQueue.settle();
      expect(smtp.messages.filter((mail) => mail.to.includes(target))).to.have.length(5);
    });
  });
}
