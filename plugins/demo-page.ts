import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'

// Run from the sources, this file is plugins/demo-page.ts; built, dist/plugins/demo-page.js. The
// page's own files are not compiled, so they stay in demo/ at the package's root either way. The client
// modules the page imports are the built ones: beside this file's build in dist/src/client/, and from the
// sources too (the browser cannot load TypeScript), so there they need `npm run build` first.
const here = dirname(fileURLToPath(import.meta.url))
const built = import.meta.url.endsWith('.js')
const packageRoot = resolve(here, built ? '../..' : '..')
const PAGE_DIR = join(packageRoot, 'demo')
const CLIENT_DIR = built ? resolve(here, '../src/client') : join(packageRoot, 'dist', 'src', 'client')

/**
 * The page runs only its own scripts, styles and icon, from this server, and talks only to this server (in
 * CSP Level 3, which every current browser implements, `'self'` also covers the same host's `ws:`/`wss:`).
 * No inline script or style, no plug-ins, no forms posted elsewhere, and no framing (clickjacking).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Sent with the page and its files. */
const SAFE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

/** The page's own files, and the client's modules (the build also leaves `.d.ts` and `.map` files there). */
const PAGE_FILE = /^\/[a-z-]+\.(js|css|svg)$/
const CLIENT_MODULE = /^\/[a-z-]+\.js$/

/**
 * The demo page at `/` (under the prefix, when embedded), when `demoPage` is on: `demo/index.html`, its
 * files at `demo/…` and the built client at `demo/client/…`, every URL relative so the prefix needs no
 * configuration. Hidden from the OpenAPI document: pages, not API. Registered by the plugin itself, not
 * autoloaded with the routes: autoload's prefix ends with `/`, and the page must also answer the bare prefix
 * (`/chat`) to send it on to `/chat/`. Encapsulated: its headers stay on its own routes.
 */
const demoPage: FastifyPluginAsync = async (fastify) => {
  if (!fastify.chatConfig.demoPage) return
  const page = await readFile(join(PAGE_DIR, 'index.html'), 'utf8')

  fastify.addHook('onSend', async (_request, reply) => {
    void reply.headers(SAFE_HEADERS)
  })

  fastify.get('/', { schema: { hide: true } }, async (request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    // Embedded under `/chat`, the page is also reached as `/chat`; its relative URLs need `/chat/`. The
    // redirect is relative too, so it holds behind a proxy that serves the app under a path of its own.
    if (!path.endsWith('/')) {
      const lastSegment = path.slice(path.lastIndexOf('/') + 1)
      return reply.redirect(`${lastSegment}/${request.url.slice(path.length)}`, 301)
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-frame-options', 'DENY')
      .header('cache-control', 'no-cache')
      .send(page)
  })

  // `decorateReply: false`: a host's own @fastify/static has decorated `reply.sendFile` already, and a second
  // decoration would refuse to start. No index: exactly these files.
  const common = { decorateReply: false, index: false } as const
  await fastify.register(fastifyStatic, {
    ...common,
    root: PAGE_DIR,
    prefix: '/demo/',
    allowedPath: (path) => PAGE_FILE.test(path),
  })
  await fastify.register(fastifyStatic, {
    ...common,
    root: CLIENT_DIR,
    prefix: '/demo/client/',
    allowedPath: (path) => CLIENT_MODULE.test(path),
  })
}

export default demoPage
