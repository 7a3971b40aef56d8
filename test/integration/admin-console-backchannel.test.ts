/**
 * The admin console's client form takes the back-channel logout metadata (CONTRACT §7: the console offers
 * everything the API does): a URI and whether the client needs `sid`, shown on the client's page and
 * loaded by the provider; a bad URI is answered 422 on the form, naming the field.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { createUser } from '../helpers/admin-api.ts';
import { createBrowserFetch, formAction, hiddenValue, type PageResponse } from '../helpers/browser-fetch.ts';

const PASSWORD = 'correct horse battery';

describe('admin console: back-channel logout in the client form (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let browser: ReturnType<typeof createBrowserFetch>;

  before(async function () {
    server = await startTestServer({ mocha: this });
    await createUser(server, { email: 'root@example.com', username: 'root', password: PASSWORD, roles: ['idp_admin'] });
    browser = createBrowserFetch(server.url);
    const loginPage = await browser.follow('/admin/clients');
    const submitted = await browser.post(formAction(loginPage.text, /\/login$/), { csrf: hiddenValue(loginPage.text, 'csrf'), login: 'root', password: PASSWORD });
    const first: PageResponse = await browser.follow('', submitted);
    expect(first.status).to.equal(200);
  });
  after(async () => server?.close());

  it('registers a client with a back-channel logout URI and shows it; the provider loads it', async () => {
    const page = await browser.get('/admin/clients');
    expect(page.text).to.include('name="backchannel_logout_uri"');
    expect(page.text).to.include('name="backchannel_logout_session_required"');
    const res = await browser.post('/admin/clients', {
      csrf: hiddenValue(page.text, 'csrf'),
      client_name: 'Portal',
      redirect_uris: 'https://portal.example.com/cb',
      type: 'confidential',
      grant_types: 'authorization_code',
      backchannel_logout_uri: 'https://portal.example.com/backchannel',
      backchannel_logout_session_required: 'true',
    });
    expect(res.status).to.equal(200);
    const clientId = /id="client-id">([^<]+)</.exec(res.text)?.[1] ?? '';
    const shown = await browser.get(`/admin/clients/${clientId}`);
    expect(shown.text).to.include('id="backchannel-logout-uri">https://portal.example.com/backchannel<');
    expect(shown.text).to.include('(session id required)');
    const client = await server.deps.oidc.provider.Client.find(clientId);
    expect(client?.backchannelLogoutUri).to.equal('https://portal.example.com/backchannel');
    expect(client?.backchannelLogoutSessionRequired).to.equal(true);
  });

  it('answers a bad back-channel logout URI with 422 on the form, and leaves the field out when empty', async () => {
    const page = await browser.get('/admin/clients');
    const bad = await browser.post('/admin/clients', {
      csrf: hiddenValue(page.text, 'csrf'),
      client_name: 'Broken',
      redirect_uris: 'https://broken.example.com/cb',
      type: 'confidential',
      grant_types: 'authorization_code',
      backchannel_logout_uri: 'not a url',
    });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.include('Back-channel logout URI: backchannel_logout_uri must be a web uri');
    expect(bad.text).to.include('value="not a url"');
    const plain = await browser.post('/admin/clients', {
      csrf: hiddenValue(page.text, 'csrf'),
      client_name: 'Plain',
      redirect_uris: 'https://plain.example.com/cb',
      type: 'confidential',
      grant_types: 'authorization_code',
      backchannel_logout_uri: '',
    });
    expect(plain.status).to.equal(200);
    const clientId = /id="client-id">([^<]+)</.exec(plain.text)?.[1] ?? '';
    expect((await server.deps.oidc.provider.Client.find(clientId))?.backchannelLogoutUri).to.equal(undefined);
  });
});
