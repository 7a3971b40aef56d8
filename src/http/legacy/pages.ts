/**
 * The one page a legacy mount serves: the target of the reset link we e-mail. Plain HTML, no script
 * (the CSP allows none inline), works without JavaScript; it posts the form to POST /reset-password.
 * In the reader's language (Accept-Language, or `ui_locales` in the link's query).
 */
import type { Translate } from '../../services/i18n.ts';
import type { Locale } from '../../config.ts';

export interface PageLanguage {
  lang: Locale;
  t: Translate;
}

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function page(lang: Locale, title: string, body: string): string {
  return `<!doctype html>
<html lang="${escape(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escape(title)}</title>
</head>
<body>
<main>
<h1>${escape(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

export function resetPasswordPage({ lang, t }: PageLanguage, action: string, token: string): string {
  return page(
    lang,
    t('reset:title'),
    `<form method="post" action="${escape(action)}">
<input type="hidden" name="token" value="${escape(token)}">
<p><label for="new_password">${escape(t('reset:passwordLabel'))}</label><br>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="8" maxlength="256" required autofocus></p>
<p><button type="submit">${escape(t('reset:submit'))}</button></p>
</form>`,
  );
}

export function resetPasswordDonePage({ lang, t }: PageLanguage): string {
  return page(lang, t('reset:doneTitle'), `<p>${escape(t('reset:done'))}</p>`);
}
