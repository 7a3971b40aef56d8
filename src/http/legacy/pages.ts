/**
 * The one page a legacy mount serves: the target of the reset link we e-mail. Plain HTML, no script
 * (the CSP allows none inline), works without JavaScript; it posts the form to POST /reset-password.
 */
const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
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

export function resetPasswordPage(action: string, token: string): string {
  return page(
    'Choose a new password',
    `<form method="post" action="${escape(action)}">
<input type="hidden" name="token" value="${escape(token)}">
<p><label for="new_password">New password (8 to 256 characters)</label><br>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="8" maxlength="256" required autofocus></p>
<p><button type="submit">Set password</button></p>
</form>`,
  );
}

export function resetPasswordDonePage(): string {
  return page('Password changed', '<p>Your password has been changed and every session signed out. You can now sign in with the new password.</p>');
}
