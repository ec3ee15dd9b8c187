/** The host app's own pages: nothing to do with ca-chat except the link to the support chat. */

const layout = (title: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
  label, input, button { font: inherit; }
  input { padding: .4rem; }
  button { padding: .4rem .9rem; }
  :focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;

export function loginPage(error: string | null): string {
  return layout(
    'Acme Books — sign in',
    `<h1>Acme Books</h1>
<p>Sign in to talk to a Chartered Accountant about your books.</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/login">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required pattern="[a-z0-9_-]{1,32}">
  <button type="submit">Sign in</button>
</form>`,
  );
}

export function homePage(username: string, chatAvailable: boolean): string {
  const chat = chatAvailable
    ? `<p><a href="/support/">Open the support chat</a> — a CA joins you there.</p>`
    : `<p>The chat page is not built yet: run <code>npm run build -w @ca-chat/example-web-client</code>.</p>`;
  return layout(
    'Acme Books',
    `<h1>Acme Books</h1>
<p>Signed in as <strong>${escapeHtml(username)}</strong>.</p>
${chat}
<form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
  );
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
