/**
 * E-mail: nodemailer to SMTP_URL (received by an in-process SMTP server), or .eml files in the outbox
 * folder when SMTP_URL is unset; the links work; REQUIRE_EMAIL_VERIFICATION gates the bearer routes.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createMailService } from '../../src/services/mail.ts';
import { createLogger } from '../../src/logger.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { startSmtpServer, firstLink, type TestSmtpServer } from '../helpers/smtp.ts';
import { PROFILE_ADAPTERS, field, http, legacyClient, newUser } from '../helpers/legacy-client.ts';

const aurora = PROFILE_ADAPTERS.find((p) => p.name === 'aurora') ?? PROFILE_ADAPTERS[0]!;
const logger = createLogger({ level: 'silent' });

describe('e-mail (src/services/mail.ts)', function () {
  this.timeout(30_000);

  describe('the mail service', () => {
    let smtp: TestSmtpServer;
    before(async () => {
      smtp = await startSmtpServer();
    });
    after(async () => smtp?.close());

    it('sends through SMTP_URL with the configured sender', async () => {
      const mail = createMailService({ smtpUrl: smtp.url, from: 'IdP <idp@example.com>', outboxDir: '/nonexistent', logger });
      await mail.send({ to: 'someone@example.com', subject: 'Hello there', text: 'Open https://example.com/x?token=abc' });
      const received = await smtp.waitFor((m) => m.subject === 'Hello there');
      expect(received.to).to.deep.equal(['someone@example.com']);
      expect(received.raw).to.match(/^From: IdP <idp@example.com>/m);
      expect(firstLink(received)).to.equal('https://example.com/x?token=abc');
      mail.close();
    });
  });

  describe('outbox mode (no SMTP_URL) and REQUIRE_EMAIL_VERIFICATION', () => {
    let server: TestServer;
    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({ database: 'sqlite', store: 'memory', env: { REQUIRE_EMAIL_VERIFICATION: 'true' } });
    });
    after(async () => server?.close());

    function outboxMail(to: string, subject: string): string {
      const dir = server.config.mail.outboxDir;
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.eml'))) {
        const text = readFileSync(path.join(dir, name), 'utf8');
        if (text.includes(`To: ${to}`) && text.includes(`Subject: ${subject}`)) return text.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      }
      throw new Error(`no "${subject}" mail for ${to} in ${dir}`);
    }

    it('writes the verification mail as an .eml file; unverified users get 403 until they follow the link', async () => {
      const api = legacyClient(server.url, aurora);
      const user = newUser('outbox');
      await api.register(user);
      const tokens = await api.login(user);
      const gated = await api.get('/me', { token: tokens.access });
      expect(gated.status).to.equal(403);
      expect(gated.body).to.deep.equal({ detail: 'Email not verified' });

      // Resending is the one bearer route an unverified user may use.
      expect((await api.post('/resend-verification', { token: tokens.access })).status).to.equal(202);
      await server.deps.mailQueue.settle();
      const eml = outboxMail(user.email.toLowerCase(), 'Verify your e-mail address');
      const link = /https?:\/\/\S+/.exec(eml)?.[0] ?? '';
      expect(link).to.match(new RegExp(`^${server.url}/api/v1/auth/verify-email\\?token=[A-Za-z0-9_-]{43}$`));

      expect((await http('GET', link)).status).to.equal(200);
      const me = await api.get('/me', { token: tokens.access });
      expect(me.status).to.equal(200);
      expect(field(me.body, 'email')).to.equal(user.email.toLowerCase());
    });

    it('serves the reset page as a plain form that works without JavaScript', async () => {
      const api = legacyClient(server.url, aurora);
      const user = newUser('resetpage');
      await api.register(user);
      expect((await api.post('/forgot-password', { json: { email: user.email } })).status).to.equal(202);
      await server.deps.mailQueue.settle();
      const link = /https?:\/\/\S+/.exec(outboxMail(user.email.toLowerCase(), 'Reset your password'))?.[0] ?? '';
      const page = await http('GET', link);
      expect(page.status).to.equal(200);
      expect(page.headers.get('cache-control')).to.equal('no-store');
      expect(String(page.body)).to.include('<form method="post" action="/api/v1/auth/reset-password">').and.not.include('<script');
      const token = new URL(link).searchParams.get('token') ?? '';
      const done = await http('POST', api.url('/reset-password'), {
        form: { token, new_password: 'from-the-page-1' },
        headers: { accept: 'text/html,application/xhtml+xml' },
      });
      expect(done.status).to.equal(200);
      expect(String(done.body)).to.include('Password changed');
      expect((await api.post('/login', { json: aurora.loginBody(user, 'from-the-page-1') })).status).to.equal(200);
    });
  });
});
