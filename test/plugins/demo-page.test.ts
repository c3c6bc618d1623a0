// The demo page's serving (the page itself runs in Chromium in test/e2e/demo-page.test.ts): when it is on by
// default and when not, its headers, exactly its own files, hidden from the OpenAPI document, and embedded
// under a prefix next to a host's own @fastify/static and its own `/`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { chatServer } from '../../src/plugin.js'
import { build, tempDir, TEST_SECRET } from '../helpers.js'

const pageStatus = async (app: FastifyInstance, url = '/') => (await app.inject({ method: 'GET', url })).statusCode

/** A standalone app as `npm start` builds it, configured by environment variables alone. */
async function fromEnvironment(t: Test, env: Record<string, string>): Promise<FastifyInstance> {
  const app = await buildApp({ dbFile: join(tempDir(t), 'env.db'), env: { JWT_SECRET: TEST_SECRET, ...env } })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

t.test('standalone, the page is at / with headers that lock it to this server', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200, 'on by default outside production')
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(res.body, /<script type="module" src="demo\/app.js"><\/script>/, 'its script, by a relative URL')
  t.notMatch(res.body, /\son[a-z]+=/i, 'no inline event handler')
  t.notMatch(res.body, /<script>|<style>|style="/, 'no inline script or style, which the CSP would refuse')
  const csp = String(res.headers['content-security-policy'])
  for (const directive of [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ]) {
    t.ok(csp.split('; ').includes(directive), `CSP has ${directive}`)
  }
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal(res.headers['referrer-policy'], 'no-referrer')
  t.equal(res.headers['cache-control'], 'no-cache', 'a new version is picked up at once')

  const head = await app.inject({ method: 'HEAD', url: '/' })
  t.equal(head.statusCode, 200, 'HEAD too')
  t.equal(head.body, '')

  for (const [file, type] of [
    ['app.js', /javascript/],
    ['style.css', /^text\/css/],
    ['icon.svg', /^image\/svg\+xml/],
  ] as const) {
    const asset = await app.inject({ method: 'GET', url: `/demo/${file}` })
    t.equal(asset.statusCode, 200, `/demo/${file} is served`)
    t.match(asset.headers['content-type'], type, `as ${type}`)
    t.equal(asset.headers['x-content-type-options'], 'nosniff')
  }
})

t.test('only the page’s own files: nothing else from the folder, nothing outside it', async (t) => {
  const app = await build(t)
  for (const url of [
    '/demo/index.html',
    '/demo/',
    '/demo',
    '/demo/../package.json',
    '/demo/%2e%2e/package.json',
    '/demo/..%2fpackage.json',
    '/demo/client/../../package.json',
    '/demo/client/index.d.ts',
    '/demo/client/index.js.map',
    '/demo/nothing.js',
  ]) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, `${url} is 404`)
    t.match(res.json(), { code: 'ROUTE_NOT_FOUND', statusCode: 404 }, 'with the usual error body')
  }
})

t.test('pages are not in the OpenAPI document', async (t) => {
  const app = await build(t)
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, unknown> }>()
  const pagePaths = Object.keys(doc.paths).filter((path) => path === '/' || path.startsWith('/demo'))
  t.same(pagePaths, [])
})

t.test('off in production unless asked for; DEMO_PAGE and demoPage decide', async (t) => {
  t.equal(await pageStatus(await build(t, { nodeEnv: 'production' })), 404, 'off in production by default')
  t.equal(await pageStatus(await build(t, { nodeEnv: 'production', demoPage: true })), 200, 'demoPage: true')
  t.equal(await pageStatus(await build(t, { demoPage: false })), 404, 'demoPage: false')
  t.equal(await pageStatus(await fromEnvironment(t, { DEMO_PAGE: 'false' })), 404, 'DEMO_PAGE=false')
  const production = { NODE_ENV: 'production', DEMO_PAGE: 'true' }
  t.equal(await pageStatus(await fromEnvironment(t, production)), 200, 'DEMO_PAGE=true in production')
  const overridden = await buildApp({
    dbFile: join(tempDir(t), 'override.db'),
    env: { JWT_SECRET: TEST_SECRET, DEMO_PAGE: 'true' },
    demoPage: false,
  })
  t.teardown(() => overridden.close())
  t.equal(await pageStatus(overridden), 404, 'the option wins over the variable')
  await t.rejects(
    buildApp({ dbFile: join(tempDir(t), 'bad.db'), env: { JWT_SECRET: TEST_SECRET, DEMO_PAGE: 'maybe' } }),
    /DEMO_PAGE/,
    'a bad DEMO_PAGE stops the start, naming the variable',
  )
})

/** A host app with its own @fastify/static (and so `reply.sendFile`) and its own `/`, the chat server under /chat. */
async function hostWithChat(t: Test, demoPage?: boolean): Promise<FastifyInstance> {
  const dir = tempDir(t)
  const publicDir = join(dir, 'public')
  mkdirSync(publicDir)
  writeFileSync(join(publicDir, 'hello.txt'), 'from the host')
  const host = Fastify()
  t.teardown(() => host.close())
  await host.register(fastifyStatic, { root: publicDir })
  host.get('/', async () => ({ home: 'the host' }))
  host.get('/sent', async (_request, reply) => reply.sendFile('hello.txt'))
  await host.register(chatServer, {
    prefix: '/chat',
    dbFile: join(dir, 'chat.db'),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
    ...(demoPage === undefined ? {} : { demoPage }),
  })
  await host.ready()
  return host
}

t.test('embedded, the page is off unless asked for', async (t) => {
  const host = await hostWithChat(t)
  t.equal(await pageStatus(host, '/chat/'), 404)
  t.same((await host.inject({ method: 'GET', url: '/' })).json(), { home: 'the host' })
})

t.test('embedded with demoPage: true, under the prefix, beside the host’s own / and static files', async (t) => {
  const host = await hostWithChat(t, true)
  const page = await host.inject({ method: 'GET', url: '/chat/' })
  t.equal(page.statusCode, 200, 'the page is at /chat/')
  t.match(page.body, /src="demo\/app.js"/)
  t.equal(await pageStatus(host, '/chat/demo/app.js'), 200, 'its files under the prefix')

  const bare = await host.inject({ method: 'GET', url: '/chat?lang=en' })
  t.equal(bare.statusCode, 301, '/chat is sent on to /chat/, where its relative URLs resolve')
  t.equal(bare.headers.location, 'chat/?lang=en', 'by a relative URL that keeps the query')

  const home = await host.inject({ method: 'GET', url: '/' })
  t.same(home.json(), { home: 'the host' }, "the host's / is still the host's")
  t.equal(home.headers['content-security-policy'], undefined, "and the page's headers stay off the host's routes")
  t.equal((await host.inject({ method: 'GET', url: '/hello.txt' })).body, 'from the host', "the host's files")
  t.equal((await host.inject({ method: 'GET', url: '/sent' })).body, 'from the host', "the host's reply.sendFile")
  const api = await host.inject({ method: 'GET', url: '/chat/ping' })
  t.equal(api.headers['content-security-policy'], undefined, "nor on the chat server's API")
})
