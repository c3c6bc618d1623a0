import t from 'tap'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import { build, Client, listen, register, settle } from '../helpers.js'
import type { ServerFrame } from '../../src/schemas/frames/index.js'

/** A frame of any shape: these tests drive the transport, which carries whatever it is handed. */
const probe = (frame: { type: string; [field: string]: unknown }) => frame as unknown as ServerFrame

// The hub writes frames to the TCP stream itself, framed once per publish and coalesced per turn of the
// event loop. Real clients must see exactly the frames the server meant, in order.

t.test('frames of every length class arrive whole: under 126 bytes, under 64 KiB, and over', async (t) => {
  const hub = new LocalHub()
  const app = await build(t, { hub })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const client = await Client.connect(t, port, ava.token)
  // JSON text of 2 + n bytes and more: each length field of RFC 6455 (7-bit, 16-bit, 64-bit) is used.
  const sizes = [0, 100, 123, 124, 125, 126, 1000, 65_000, 65_535, 65_536, 200_000]
  for (const size of sizes) hub.publishToUser(ava.id, probe({ type: 'probe', size, text: 'é'.repeat(size / 2) }))
  for (const size of sizes) {
    const frame = await client.waitFor((f) => f.type === 'probe' && f.size === size)
    t.equal(frame.text, 'é'.repeat(size / 2), `${size}: the text is intact`)
  }
  t.same(
    client.frames.map((f) => f.size),
    sizes,
    'in the order they were published',
  )
})

t.test('many frames published in one turn all arrive, in order, to every socket', async (t) => {
  const hub = new LocalHub()
  const app = await build(t, { hub })
  const port = await listen(app)
  const [ava, mike] = await Promise.all([register(app, 'ava'), register(app, 'mike')])
  const sockets = await Promise.all([
    Client.connect(t, port, ava.token),
    Client.connect(t, port, ava.token),
    Client.connect(t, port, mike.token),
  ])
  for (let n = 1; n <= 500; n += 1) hub.publish([ava.id, mike.id], probe({ type: 'probe', n }))
  for (const socket of sockets) {
    await socket.waitFor((f) => f.n === 500)
    t.same(
      socket.frames.map((f) => f.n),
      Array.from({ length: 500 }, (_, i) => i + 1),
    )
  }
})

t.test('frames published just before a close reach the client before the close', async (t) => {
  const hub = new LocalHub()
  const app = await build(t, { hub })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const client = await Client.connect(t, port, ava.token)
  const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)))
  // A logout closes the token's sockets (4003) in the same turn as the frames published before it.
  for (let n = 1; n <= 20; n += 1) hub.publishToUser(ava.id, probe({ type: 'probe', n }))
  const logout = await app.inject({ method: 'POST', url: '/v1/users/logout', headers: ava.auth })
  t.equal(logout.statusCode, 200)
  t.equal(await closed, 4003)
  await settle(50)
  const probes = client.frames.filter((f) => f.type === 'probe').map((f) => f.n)
  t.same(
    probes,
    Array.from({ length: 20 }, (_, i) => i + 1),
    'every frame published before the close arrived',
  )
  t.match(client.frames.at(-1), { type: 'error', code: 'TOKEN_REVOKED' }, 'and the revocation notice came last')
})
