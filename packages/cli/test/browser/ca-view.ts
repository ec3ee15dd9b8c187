import type { Locator, Page, Response } from 'playwright-core';

/**
 * Plays a CA in the emulator's CA view (`/` of the Telegram emulator) the way a person does:
 * typing in the composer, pressing inline buttons, picking a file. Nothing goes through the
 * driver API directly; every wait is on what the page shows.
 *
 * The page has no `data-testid`s, so bubbles are found by their classes (`li.msg.bot` is
 * the bot, `li.msg.me` the CA) and controls by their labels and button names.
 */
export interface CaView {
  readonly page: Page;
  /** Opens the view; with no Telegram user yet it shows the "create a user" form. */
  open(url: string): Promise<void>;
  /** Creates a Telegram user with this first name and waits until the view follows them live. */
  createUser(firstName: string): Promise<void>;
  /** Types a message and presses Enter; resolves when the CA's bubble shows it. */
  say(text: string): Promise<void>;
  /** The latest bot bubble containing `text`, once it is visible. */
  botMessage(text: string | RegExp): Promise<Locator>;
  /** Clicks the inline button named `label` on `message`. */
  press(message: Locator, label: string | RegExp): Promise<void>;
  /** Picks a file in the "Document" input; the view sends it at once. */
  sendDocument(file: { name: string; mimeType: string; buffer: Buffer }): Promise<void>;
  /** /start → name → membership number → one language → Done → Skip topics → Confirm. */
  register(details: { name: string; membershipNo: string; languageButton: string }): Promise<void>;
}

const isEventStream = (response: Response): boolean =>
  response.url().includes('/_emulator/events?');

export function createCaView(page: Page): CaView {
  const composer = page.getByLabel('Message (or caption)');
  const botBubble = (text: string | RegExp): Locator =>
    page.locator('#messages li.msg.bot', { hasText: text }).last();

  const view: CaView = {
    page,
    async open(url) {
      // Bot messages show live only once the view's event stream is open (the demo has a bot).
      const streamOpen = page.waitForResponse(isEventStream);
      await page.goto(url);
      await streamOpen;
      await page.locator('#bot option').first().waitFor({ state: 'attached' });
    },

    async createUser(firstName) {
      const form = page.getByRole('form', { name: 'Create a Telegram user' });
      if (!(await form.isVisible())) await page.getByRole('button', { name: 'New user…' }).click();
      await form.getByLabel('First name').fill(firstName);
      // The view reopens its event stream after creating the user; what the bot sends before
      // it is open would be missed (a person would never notice the gap; a test would).
      const streamOpen = page.waitForResponse(isEventStream);
      await form.getByRole('button', { name: 'Create' }).click();
      await streamOpen;
      await page
        .getByRole('status')
        .filter({ hasText: `Created user ${firstName}` })
        .waitFor({ state: 'visible' });
      await page
        .getByText('No messages yet. Say hello, or send /start.')
        .waitFor({ state: 'visible' });
    },

    async say(text) {
      await composer.fill(text);
      await composer.press('Enter');
      await page
        .locator('#messages li.msg.me', { hasText: text })
        .last()
        .waitFor({ state: 'visible' });
    },

    async botMessage(text) {
      const bubble = botBubble(text);
      await bubble.waitFor({ state: 'visible' });
      return bubble;
    },

    async press(message, label) {
      await message.getByRole('button', { name: label, exact: typeof label === 'string' }).click();
    },

    async sendDocument(file) {
      await page.getByLabel('Document').setInputFiles(file);
      await page
        .getByRole('status')
        .filter({ hasText: `Sent ${file.name}.` })
        .waitFor({ state: 'visible' });
    },

    async register({ name, membershipNo, languageButton }) {
      await view.say('/start');
      await view.botMessage('What is your full name');
      await view.say(name);
      await view.botMessage('What is your ICAI membership number?');
      await view.say(membershipNo);
      const languages = await view.botMessage('Which languages can you advise clients in?');
      await view.press(languages, languageButton);
      // The bot edits the keyboard to tick the language before Done may be pressed.
      await languages
        .getByRole('button', { name: `✓ ${languageButton}`, exact: true })
        .waitFor({ state: 'visible' });
      await view.press(languages, 'Done');
      await view.press(await view.botMessage('Which topics do you cover?'), 'Skip');
      await view.press(await view.botMessage('Please check your details'), 'Confirm');
      await view.botMessage('You are registered and available');
    },
  };
  return view;
}
