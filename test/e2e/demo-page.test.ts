// The demo page end to end, in headless Chromium (Debian's package, driven by playwright-core): the server as
// `npm run build` compiles it, two browser contexts logged in as Ava and Mike, unread counts, typing, live
// messages in a group and a direct conversation, a server restart in the middle, errors; then the page
// embedded under a prefix in a host app with its own @fastify/static and its own `/`.
//
// The server is compiled into a folder of this test's own, not dist/: the page loads the built client
// modules, and the walkthrough test rebuilds dist/ while the tests run in parallel.
import { spawn } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { chromiumMissing, launchChromium } from '../../scripts/chromium.js'
import type * as AppModule from '../../src/app.js'
import type * as PluginModule from '../../src/plugin.js'
import { tempDir, TEST_SECRET } from '../helpers.js'

t.setTimeout(300_000)

const repoRoot = join(import.meta.dirname, '..', '..')
/** Generous: two shared cores, a browser and a server on them. Every wait is for a condition, never a sleep. */
const WAIT_MS = 30_000

/** Skips with the reason where Chromium is missing; under CI=true that is a failure instead. */
function needsChromium(): { skip?: string } {
  const missing = chromiumMissing()
  if (missing === undefined) return {}
  if (process.env.CI === 'true') throw new Error(`${missing}, and CI=true requires it (.ci/run installs it)`)
  return { skip: `${missing}: the demo page test needs it` }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited with ${code}`))))
  })
}

/** Compiles the server as `npm run build` does into a new folder laid out like the package; returns the folder. */
let compiled: Promise<string> | undefined
/** The compiled server's folder, compiled once for both tests (removed when this file's tests end). */
const compiledServer = () => (compiled ??= compileServer())

async function compileServer(): Promise<string> {
  const dir = tempDir(t)
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  await run(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')])
  cpSync(join(repoRoot, 'demo'), join(dir, 'demo'), { recursive: true })
  copyFileSync(join(repoRoot, 'package.json'), join(dir, 'package.json'))
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return dir
}

interface Watched {
  page: Page
  /** Uncaught errors and Content-Security-Policy refusals seen on the page. */
  problems: string[]
}

async function openPage(t: Test, browser: Browser, url: string): Promise<Watched> {
  const context: BrowserContext = await browser.newContext({ viewport: { width: 1100, height: 720 } })
  t.teardown(() => context.close())
  context.setDefaultTimeout(WAIT_MS)
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`))
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`)
  })
  await page.goto(url)
  return { page, problems }
}

/** The chat list's button for a conversation, by the name it starts with. */
const chat = (page: Page, name: string) => page.getByRole('button', { name: new RegExp(`^${name}\\b`) })
const badge = (page: Page, name: string) => chat(page, name).locator('.badge')
/** Shown (not still being sent) messages with this text in the open conversation. */
const shown = (page: Page, content: string) =>
  page.locator('#messages .message:not(.pending)').filter({ has: page.getByText(content, { exact: true }) })

async function logInWithButton(page: Page, name: string) {
  await page.getByRole('button', { name: `Log in as ${name}` }).click()
  await page.getByText(`Logged in as ${name}`).waitFor()
}

async function send(page: Page, content: string) {
  const input = page.getByLabel('Message', { exact: true })
  await input.fill(content)
  await input.press('Enter')
}

const connectionIs = (page: Page, state: string) => page.locator(`#connection[data-state="${state}"]`).waitFor()

/** The token the page keeps in its tab. */
async function tokenOf(page: Page): Promise<string> {
  // Run in the page (this file is compiled without the DOM's types).
  const token: unknown = await page.evaluate(`
    Object.entries(sessionStorage).find(([name]) => name.startsWith('chatserver-demo-token'))?.[1] ?? null
  `)
  if (typeof token !== 'string') throw new Error('the page keeps no token')
  return token
}

/** Resolves once `check` holds, polling; fails with `what` after WAIT_MS. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

t.test('two people chat live on the demo page', needsChromium(), async (t) => {
  const dir = await compiledServer()
  const { buildApp } = (await import(pathToFileURL(join(dir, 'dist', 'src', 'app.js')).href)) as typeof AppModule
  const options = {
    dbFile: join(dir, 'chat.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: true,
    shutdownGraceMs: 200,
  }
  let app: FastifyInstance = await buildApp(options)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  const port = address.port
  const baseUrl = `http://127.0.0.1:${port}`

  const res = await fetch(`${baseUrl}/`)
  t.equal(res.status, 200, 'the standalone server serves the page at / by default')
  t.match(res.headers.get('content-security-policy'), /script-src 'self'/)
  const client = await fetch(`${baseUrl}/demo/client/index.js`)
  t.equal(client.status, 200, 'and the built client beside it')
  t.match(client.headers.get('content-type'), /javascript/)
  t.equal((await fetch(`${baseUrl}/demo/client/index.d.ts`)).status, 404, 'but not the declarations')

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const ava = await openPage(t, browser, `${baseUrl}/`)
  const mike = await openPage(t, browser, `${baseUrl}/`)

  await t.test('each logs in and sees the chat list', async (t) => {
    await logInWithButton(ava.page, 'Ava')
    // Mike uses the form and the keyboard only.
    await mike.page.getByLabel('Email').fill('mike@temp.com')
    await mike.page.getByLabel('Password').fill('password')
    await mike.page.getByLabel('Password').press('Enter')
    await mike.page.getByText('Logged in as Mike').waitFor()
    for (const { page } of [ava, mike]) {
      await chat(page, 'General').waitFor()
      await connectionIs(page, 'open')
      t.equal(await badge(page, 'General').isVisible(), false, 'no unread messages yet')
    }
    await chat(ava.page, 'Mike').waitFor()
    await chat(mike.page, 'Ava').waitFor()
    t.pass('both see group General and each other')
  })

  await t.test('a message Mike has not read shows as unread in his list, live', async (t) => {
    await chat(ava.page, 'General').click()
    await ava.page.getByRole('heading', { name: 'General' }).waitFor()
    await send(ava.page, 'Hello Mike!')
    await shown(ava.page, 'Hello Mike!').waitFor()
    await badge(mike.page, 'General').filter({ hasText: '1' }).waitFor()
    t.equal(await badge(mike.page, 'General').textContent(), '1 unread', 'Mike sees 1 unread in General')
    t.match(await chat(mike.page, 'General').textContent(), /Ava: Hello Mike!/, 'with the last message')
    t.equal(await badge(ava.page, 'General').isVisible(), false, 'Ava, who sent it, has nothing unread')
  })

  await t.test('Mike opens General: the history, and the unread count goes', async (t) => {
    await chat(mike.page, 'General').click()
    const message = shown(mike.page, 'Hello Mike!')
    await message.waitFor()
    t.equal(await message.locator('.sender').textContent(), 'Ava', 'from Ava')
    await badge(mike.page, 'General').waitFor({ state: 'hidden' })
    t.pass('nothing unread once he has read it')
  })

  await t.test('Ava types: Mike sees it; Ava sends: Mike receives it without a reload', async (t) => {
    await ava.page.getByLabel('Message', { exact: true }).pressSequentially('Are you there?', { delay: 30 })
    await mike.page.locator('#typing').filter({ hasText: 'Ava is typing…' }).waitFor()
    await ava.page.getByLabel('Message', { exact: true }).press('Enter')
    await shown(mike.page, 'Are you there?').waitFor()
    await mike.page.waitForFunction(`document.getElementById('typing').textContent === ''`)
    t.equal(await shown(mike.page, 'Are you there?').count(), 1, 'once')
    t.equal(await badge(mike.page, 'General').isVisible(), false, 'read as it arrives in the open conversation')
    t.pass('typing shown, then the message, then typing gone')
  })

  await t.test('Mike replies in a direct conversation; Ava sees it unread, opens it and answers', async (t) => {
    await chat(mike.page, 'Ava').click()
    await mike.page.getByRole('heading', { name: 'Ava (direct)' }).waitFor()
    await send(mike.page, 'Hi Ava, just you and me')
    await shown(mike.page, 'Hi Ava, just you and me').waitFor()
    await badge(ava.page, 'Mike').filter({ hasText: '1' }).waitFor()
    t.equal(await badge(ava.page, 'Mike').textContent(), '1 unread', 'Ava sees 1 unread from Mike')
    t.equal(await shown(ava.page, 'Hi Ava, just you and me').count(), 0, 'not in General, where Ava is')

    await chat(ava.page, 'Mike').click()
    await shown(ava.page, 'Hi Ava, just you and me').waitFor()
    await badge(ava.page, 'Mike').waitFor({ state: 'hidden' })
    await send(ava.page, 'Hi Mike, got it')
    await shown(mike.page, 'Hi Mike, got it').waitFor()
    t.pass('the direct conversation works both ways')
  })

  await t.test('a server restart: both pages reconnect, and a message sent meanwhile arrives once', async (t) => {
    await app.close()
    await connectionIs(ava.page, 'reconnecting')
    await connectionIs(mike.page, 'reconnecting')
    t.match(await ava.page.locator('#connection').textContent(), /^Reconnecting in \d+ s…$/, 'says so')

    await send(ava.page, 'sent while the server was down')
    await ava.page.locator('.message.pending').filter({ hasText: 'Sending…' }).waitFor()

    app = await buildApp(options)
    await app.listen({ port, host: '127.0.0.1' })
    await connectionIs(ava.page, 'open')
    await connectionIs(mike.page, 'open')
    await shown(mike.page, 'sent while the server was down').waitFor()
    await ava.page.locator('.message.pending').waitFor({ state: 'detached' })
    t.equal(await shown(ava.page, 'sent while the server was down').count(), 1, 'Ava sees it sent, once')
    t.equal(await shown(mike.page, 'sent while the server was down').count(), 1, 'Mike receives it, once')
  })

  await t.test('a reload keeps the session and the read markers', async (t) => {
    // The page moved Mike's read markers as the messages arrived: wait for the server to have them all.
    const token = await tokenOf(mike.page)
    await until(async () => {
      const res = await fetch(`${baseUrl}/v1/chats`, { headers: { authorization: `Bearer ${token}` } })
      const { chats } = (await res.json()) as { chats: Array<{ unread_count: number }> }
      return chats.length === 2 && chats.every((entry) => entry.unread_count === 0)
    }, "Mike's read markers on the server")
    await mike.page.reload()
    await mike.page.getByText('Logged in as Mike').waitFor()
    await chat(mike.page, 'General').waitFor()
    await connectionIs(mike.page, 'open')
    t.equal(await badge(mike.page, 'General').isVisible(), false, 'General stays read')
    t.equal(await badge(mike.page, 'Ava').isVisible(), false, 'the direct conversation too')
    await chat(mike.page, 'Ava').click()
    for (const content of ['Hi Ava, just you and me', 'Hi Mike, got it', 'sent while the server was down']) {
      await shown(mike.page, content).waitFor()
    }
    t.pass('the history is all there')
  })

  await t.test('errors: a refused send, a wrong password, a session revoked elsewhere, logging out', async (t) => {
    await send(ava.page, 'no NUL\u0000allowed')
    const failed = ava.page.locator('.message.failed')
    await failed.waitFor()
    t.match(await failed.locator('.meta').textContent(), /^Not sent: .*NUL/, "the server's reason is shown")
    t.equal(await failed.getByRole('button', { name: 'Retry' }).isVisible(), true, 'with a way to retry')

    const stranger = await openPage(t, browser, `${baseUrl}/`)
    await stranger.page.getByLabel('Email').fill('ava@temp.com')
    await stranger.page.getByLabel('Password').fill('not the password')
    await stranger.page.getByRole('button', { name: 'Log in', exact: true }).click()
    await stranger.page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor()
    t.equal(await stranger.page.getByRole('heading', { name: 'Log in' }).isVisible(), true, 'still at the login')

    // Ava's token is revoked by another client (the API's logout): her open socket is closed with 4003.
    const token = await tokenOf(ava.page)
    const revoked = await fetch(`${baseUrl}/v1/users/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    t.equal(revoked.status, 200)
    await ava.page.getByRole('alert').filter({ hasText: 'Your session ended (TOKEN_REVOKED)' }).waitFor()
    t.equal(await ava.page.getByRole('heading', { name: 'Log in' }).isVisible(), true, 'Ava is asked to log in')

    await mike.page.getByRole('button', { name: 'Log out' }).click()
    await mike.page.getByRole('heading', { name: 'Log in' }).waitFor()
    const left: unknown = await mike.page.evaluate('sessionStorage.length')
    t.equal(left, 0, "Mike's tab forgot his token")

    for (const watched of [ava, mike, stranger])
      t.same(watched.problems, [], 'no uncaught error, nothing refused by CSP')
  })
})

t.test('embedded under /chat beside a host with its own @fastify/static and its own /', needsChromium(), async (t) => {
  const dir = await compiledServer()
  const { chatServer } = (await import(
    pathToFileURL(join(dir, 'dist', 'src', 'plugin.js')).href
  )) as typeof PluginModule
  const hostFiles = join(dir, 'host-public')
  mkdirSync(hostFiles)
  writeFileSync(join(hostFiles, 'hello.txt'), 'from the host')

  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(fastifyStatic, { root: hostFiles })
  host.get('/', async () => ({ home: 'the host' }))
  await host.register(chatServer, {
    prefix: '/chat',
    dbFile: join(dir, 'embedded.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: true,
    demoPage: true,
  })
  await host.listen({ port: 0, host: '127.0.0.1' })
  const address = host.server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  const origin = `http://127.0.0.1:${address.port}`

  t.same(await (await fetch(`${origin}/`)).json(), { home: 'the host' }, "the host's / is the host's")
  t.equal(await (await fetch(`${origin}/hello.txt`)).text(), 'from the host', "the host's static files too")

  // Mike, over REST at the prefixed API: more messages than the page's first page of history holds.
  const login = await fetch(`${origin}/chat/v1/users/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'mike@temp.com', password: 'password' }),
  })
  const { token } = (await login.json()) as { token: string }
  const post = (content: string) =>
    fetch(`${origin}/chat/v1/messages/group/1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ content }),
    })
  const statuses: number[] = []
  for (let n = 1; n <= 54; n += 1) statuses.push((await post(`earlier ${n}`)).status)
  t.same(new Set(statuses), new Set([201]), '54 messages stored (under the 60 per 10 s sending limit)')

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const ava = await openPage(t, browser, `${origin}/chat`)
  t.equal(ava.page.url(), `${origin}/chat/`, '/chat leads to /chat/, where the relative URLs resolve')
  await logInWithButton(ava.page, 'Ava')
  t.equal(await badge(ava.page, 'General').textContent(), '54 unread', 'all unread')
  await chat(ava.page, 'General').click()
  await connectionIs(ava.page, 'open')
  await shown(ava.page, 'earlier 54').waitFor()
  t.equal(await ava.page.locator('#messages .message').count(), 50, 'the newest 50 first')
  t.equal(await shown(ava.page, 'earlier 4').count(), 0, 'not the oldest')
  await ava.page.getByRole('button', { name: 'Load older messages' }).click()
  await shown(ava.page, 'earlier 1').waitFor()
  t.equal(await ava.page.locator('#messages .message').count(), 54, 'then the rest, in order')
  t.equal(await ava.page.locator('#messages .message .content').first().textContent(), 'earlier 1')
  await ava.page.getByRole('button', { name: 'Load older messages' }).waitFor({ state: 'hidden' })

  // While Ava watches General in the page.
  t.equal((await post('hello from the API')).status, 201)
  await shown(ava.page, 'hello from the API').waitFor()
  t.pass('the page under /chat receives live over /chat/ws')

  await send(ava.page, 'hello from the page')
  await shown(ava.page, 'hello from the page').waitFor()
  const history = await fetch(`${origin}/chat/v1/groups/1/messages?limit=2`, {
    headers: { authorization: `Bearer ${token}` },
  })
  const { messages } = (await history.json()) as { messages: Array<{ content: string }> }
  t.same(
    messages.map((message) => message.content),
    ['hello from the API', 'hello from the page'],
    "the page's message is stored under the prefix",
  )
  t.same(ava.problems, [], 'no uncaught error, nothing refused by CSP')
})
