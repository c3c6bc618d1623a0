// `npm run screenshot`: docs/demo.png, Mike's window of the demo page in the middle of a conversation with
// Ava. Runs the built server on a fresh database in a temporary folder, and Debian's Chromium.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { buildApp } from '../src/app.js'
import { chromiumMissing, launchChromium } from './chromium.js'

const OUTPUT = join('docs', 'demo.png')

async function logIn(browser: Browser, baseUrl: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 640 }, colorScheme: 'light' })
  context.setDefaultTimeout(30_000)
  const page = await context.newPage()
  await page.goto(`${baseUrl}/`)
  await page.getByRole('button', { name: `Log in as ${name}` }).click()
  await page.locator('#connection[data-state="open"]').waitFor()
  return page
}

const open = (page: Page, name: string) => page.getByRole('button', { name: new RegExp(`^${name}\\b`) }).click()

async function say(page: Page, content: string): Promise<void> {
  const input = page.getByLabel('Message', { exact: true })
  await input.fill(content)
  await input.press('Enter')
  await page.locator('#messages .message:not(.pending)').filter({ hasText: content }).waitFor()
}

async function main(): Promise<void> {
  const missing = chromiumMissing()
  if (missing !== undefined) throw new Error(missing)
  const dir = mkdtempSync(join(tmpdir(), 'chatserver-screenshot-'))
  const app = await buildApp({ dbFile: join(dir, 'chat.db'), env: {}, demoData: true })
  const browser = await launchChromium()
  try {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('no port')
    const baseUrl = `http://127.0.0.1:${address.port}`
    const ava = await logIn(browser, baseUrl, 'Ava')
    const mike = await logIn(browser, baseUrl, 'Mike')

    await open(ava, 'General')
    await open(mike, 'General')
    await say(ava, 'Morning! Is the release still on for today?')
    await say(mike, 'Yes: the last checks passed an hour ago.')
    await say(ava, 'Great. I will tell the others.')
    await say(mike, 'Thanks! I will post here when it is out.')
    // A direct message Mike has not read yet, and Ava typing in General.
    await open(ava, 'Mike')
    await say(ava, 'Coffee after the release?')
    await mike.getByRole('button', { name: /^Ava\b.*1 unread/ }).waitFor()
    await open(ava, 'General')
    await ava.getByLabel('Message', { exact: true }).pressSequentially('Also', { delay: 40 })
    await mike.locator('#typing').filter({ hasText: 'Ava is typing…' }).waitFor()
    await mike.screenshot({ path: OUTPUT })
    console.log(`wrote ${OUTPUT}`)
  } finally {
    await browser.close()
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
