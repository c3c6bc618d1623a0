import { once } from 'node:events'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import type { SocketConnection } from '../../plugins/realtime/connection.js'
import { LocalHub } from '../../plugins/hub/local-hub.js'
import { CloseCode } from '../../plugins/realtime/guard.js'
import type { HubConnection } from '../../src/domain/ports.js'
import { DEFAULT_SOCKET_LIMITS, resolveConfig } from '../../src/options.js'
import { build, Client, createGroup, listen, register, TEST_SECRET, tempDir, type Frame } from '../helpers.js'

// Slow and dead clients, noisy clients, too many sockets, and shutdown, each against a real server
// over real sockets. Limits and intervals are made small through the plugin's options, so nothing
// waits on the clock; each wait below is for an event, with a deadline only so a failure is quick.

/** The TCP socket under a `ws` socket (client or server side). */
const tcpOf = (socket: WebSocket) => (socket as unknown as { _socket: Socket })._socket

/** The in-process hub, recording every connection it is given, to find the server's side of a socket. */
class RecordingHub extends LocalHub {
  readonly recorded: HubConnection[] = []
  override attach(connection: HubConnection): () => void {
    this.recorded.push(connection)
    return super.attach(connection)
  }

  /** The server's side of a user's only socket. */
  socketOf(userId: number): WebSocket {
    const found = this.recorded.filter((connection) => connection.userId === userId)
    if (found.length !== 1) throw new Error(`expected one connection of user ${userId}, found ${found.length}`)
    return (found[0] as unknown as { socket: WebSocket }).socket
  }
}

/** Resolves with the close code and reason of a socket, or rejects after `ms`. */
function closeOf(socket: WebSocket, ms = 10_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    if (socket.readyState === socket.CLOSED) reject(new Error('the socket was already closed'))
    const timer = setTimeout(() => reject(new Error(`the socket was not closed within ${ms} ms`)), ms)
    socket.once('close', (code, reason) => {
      clearTimeout(timer)
      resolve({ code, reason: reason.toString() })
    })
  })
}

/** Polls a condition the server reaches on its own (e.g. noticing a socket closed), within a deadline. */
async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const messageIds = (frames: Frame[]) => frames.filter((f) => f.type === 'group_message').map((f) => f.id as number)

t.test('a client that stops reading is closed with 4008 while the others get every message in order', async (t) => {
  const maxBufferedBytes = 64 * 1024
  const hub = new RecordingHub()
  const app = await build(t, {
    hub,
    maxBufferedBytes,
    maxFramesPerSecond: 0,
    heartbeatIntervalMs: 0,
    rateLimits: false,
  })
  const port = await listen(app)
  const [ava, mike, zoe] = await Promise.all(['ava', 'mike', 'zoe'].map((name) => register(app, name)))
  const groupId = await createGroup(app, ava!, [mike!, zoe!])
  const sender = await Client.connect(t, port, ava!.token)
  const reader = await Client.connect(t, port, mike!.token)
  const slow = await Client.connect(t, port, zoe!.token)
  const slowOnServer = hub.socketOf(zoe!.id)

  // Zoe's client stops reading: what the server sends her piles up in the kernel, then in the server.
  // (About 5 MB fill the loopback's kernel buffers here; the loop stops at 24 MB.)
  tcpOf(slow.socket).pause()
  const content = 'x'.repeat(16_000)
  const acked: number[] = []
  let bufferedAtClose = 0
  while (slowOnServer.readyState === WebSocket.OPEN && acked.length < 1500) {
    const acks = await Promise.all(
      Array.from({ length: 25 }, () => sender.request({ type: 'group_message', group_id: groupId, content })),
    )
    for (const ack of acks) acked.push((ack.message as { id: number }).id)
    bufferedAtClose = slowOnServer.bufferedAmount
  }
  if (slowOnServer.readyState === WebSocket.OPEN) {
    t.fail(
      `the slow socket was still open after ${acked.length} messages (${slowOnServer.bufferedAmount} bytes buffered)`,
    )
    return
  }
  t.pass(`the server closed the slow socket after ${acked.length} messages`)
  t.ok(
    bufferedAtClose <= maxBufferedBytes + content.length + 1024,
    `its send buffer stayed bounded: ${bufferedAtClose} bytes at most the limit plus one frame`,
  )

  // Mike, reading all along, got every message, once, in order.
  const last = acked[acked.length - 1]!
  await reader.waitFor((frame) => frame.id === last, 30_000)
  t.same(messageIds(reader.frames), acked, 'the reading member got every message in order')

  // Zoe reads again: what was buffered, in order and without a gap, then the close code.
  const slowClosed = closeOf(slow.socket)
  tcpOf(slow.socket).resume()
  const { code, reason } = await slowClosed
  t.equal(code, CloseCode.SLOW_CONSUMER, 'closed with 4008')
  t.equal(reason, 'slow consumer')
  const got = messageIds(slow.frames)
  t.ok(got.length < acked.length, `the slow client got only what fitted (${got.length})`)
  t.same(got, acked.slice(0, got.length), 'a gapless prefix, so a resume from its last id loses nothing')
  await until(() => hub.connectionCount() === 2, 'the slow socket is detached from the hub')
})

t.test('a socket that stops answering pings is cut off; one that answers stays', async (t) => {
  const hub = new LocalHub()
  const app = await build(t, { hub, heartbeatIntervalMs: 40 })
  const port = await listen(app)
  const [ava, mike] = await Promise.all(['ava', 'mike'].map((name) => register(app, name)))
  const live = await Client.connect(t, port, ava!.token)
  const dead = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${mike!.token}`, { autoPong: false })
  t.teardown(() => dead.terminate())
  await once(dead, 'open')
  let deadPings = 0
  dead.on('ping', () => (deadPings += 1))

  const { code } = await closeOf(dead)
  t.equal(code, 1006, 'the unanswering socket was terminated (no close handshake with a dead peer)')
  t.ok(deadPings >= 1, 'it had been pinged')
  await until(() => hub.connectionCount() === 1, 'the dead socket is detached')
  t.notOk(hub.isOnline(mike!.id), 'and its user is offline')

  // Three more heartbeats go by: the answering socket stays and still works.
  await new Promise<void>((resolve) => {
    let pings = 0
    live.socket.on('ping', () => (pings += 1) === 3 && resolve())
  })
  t.equal(live.socket.readyState, WebSocket.OPEN, 'the answering socket is still open')
  t.match(await live.request({ type: 'ping' }), { type: 'pong' })
})

t.test('frames over the rate limit get RATE_LIMITED and are not handled; going on closes with 1008', async (t) => {
  // A burst of 3 and a refill of one frame per 1,000 s: nothing refills while the test runs.
  const app = await build(t, { maxFramesPerSecond: 0.001, frameBurst: 3 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const client = await Client.connect(t, port, ava.token)
  const closed = closeOf(client.socket)

  for (const ref of [1, 2, 3]) client.send({ type: 'ping', ref })
  await client.waitFor((frame) => frame.ref === 3)
  t.same(
    client.frames.map((frame) => [frame.type, frame.ref]),
    [
      ['pong', 1],
      ['pong', 2],
      ['pong', 3],
    ],
    'the burst is answered',
  )

  client.send({ type: 'group_message', group_id: groupId, content: 'over the limit', ref: 4 })
  for (const ref of [5, 6, 7, 8, 9]) client.send({ type: 'ping', ref })
  await client.waitFor((frame) => frame.ref === 9)
  const refused = client.frames.slice(3)
  t.same(
    refused.map((frame) => [frame.type, frame.ref, frame.code]),
    [4, 5, 6, 7, 8, 9].map((ref) => ['error', ref, 'RATE_LIMITED']),
    'each frame over the limit gets an error frame echoing its ref',
  )
  t.ok(refused.every((frame) => typeof frame.retry_after_ms === 'number' && frame.retry_after_ms > 0))
  const history = await app.inject({ url: `/v1/groups/${groupId}/messages`, headers: ava.auth })
  t.equal(history.json<{ count: number }>().count, 0, 'the refused message was not stored')

  client.send({ type: 'ping', ref: 10 }) // three times the burst
  const { code, reason } = await closed
  t.equal(code, CloseCode.POLICY_VIOLATION, 'closed with 1008')
  t.equal(reason, 'rate limited')
  t.notOk(
    client.frames.some((frame) => frame.ref === 10),
    'the frame that went too far got no answer',
  )
})

/** Opens `/ws` and resolves with the HTTP refusal (status and body), or `open` when it upgraded. */
function attempt(t: Test, port: number, token: string) {
  return new Promise<{ status: number; body?: Record<string, unknown>; socket?: WebSocket }>((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`)
    t.teardown(() => socket.terminate())
    socket.once('open', () => resolve({ status: 101, socket }))
    socket.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk.toString()))
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> })
        socket.terminate()
      })
    })
    socket.once('error', (error) => {
      if (!String(error.message).startsWith('Unexpected server response')) reject(error)
    })
  })
}

t.test('one socket past the per-user limit is refused with 429 TOO_MANY_SOCKETS before the upgrade', async (t) => {
  const hub = new LocalHub()
  const app = await build(t, { hub, maxSocketsPerUser: 2 })
  const port = await listen(app)
  const [ava, mike] = await Promise.all(['ava', 'mike'].map((name) => register(app, name)))
  const first = await Client.connect(t, port, ava!.token)
  await Client.connect(t, port, ava!.token)

  const third = await attempt(t, port, ava!.token)
  t.equal(third.status, 429, 'the third socket is refused')
  t.same(third.body, {
    error: 'You have 2 sockets open, the most allowed: close one before opening another.',
    code: 'TOO_MANY_SOCKETS',
    statusCode: 429,
  })
  t.equal((await attempt(t, port, mike!.token)).status, 101, 'another user is not affected')

  first.socket.close()
  await until(() => hub.connectionCount() === 2, 'the closed socket is detached')
  t.equal((await attempt(t, port, ava!.token)).status, 101, 'once one closes, another may open')
})

t.test('upgrades racing past the check are closed with 1008, so the limit holds', async (t) => {
  const app = await build(t, { maxSocketsPerUser: 2 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  // Each attempt ends refused, closed, or usable (it answers a ping); listeners are set before anything arrives.
  const outcome = () =>
    new Promise<string>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${ava.token}`)
      t.teardown(() => socket.terminate())
      socket.once('open', () => socket.send(JSON.stringify({ type: 'ping' })))
      socket.once('message', () => resolve('usable'))
      socket.once('close', (code) => resolve(`closed ${code}`))
      socket.once('unexpected-response', (_request, response) => resolve(`refused ${response.statusCode}`))
      socket.on('error', () => undefined)
    })
  const outcomes = await Promise.all(Array.from({ length: 6 }, outcome))
  t.equal(outcomes.filter((outcome) => outcome === 'usable').length, 2, `two usable sockets: ${outcomes.join(', ')}`)
  t.ok(
    outcomes.every((outcome) => ['usable', 'refused 429', 'closed 1008'].includes(outcome)),
    'every other one was refused with 429 or closed with 1008',
  )
})

t.test('closing the app answers the frames it received, then closes every socket with 1001', async (t) => {
  const dbFile = join(tempDir(t), 'shutdown.db')
  const app = await build(t, { dbFile, maxFramesPerSecond: 0, rateLimits: false })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const client = await Client.connect(t, port, ava.token)
  const closed = closeOf(client.socket)

  // Many frames in the socket's queue when the close starts, and more sent while it runs.
  const count = 1000
  for (let i = 0; i < count; i++) {
    client.send({ type: 'group_message', group_id: groupId, content: `m${i}`, client_msg_id: `c${i}`, ref: `s${i}` })
  }
  await client.waitFor((frame) => frame.type === 'ack')
  const closing = app.close()
  for (let i = 0; i < 50; i++) {
    client.send({ type: 'group_message', group_id: groupId, content: `late${i}`, ref: `late${i}` })
  }
  await closing
  const { code, reason } = await closed
  t.equal(code, CloseCode.GOING_AWAY, 'closed with 1001 going away')
  t.equal(reason, 'server shutting down')

  const answers = client.frames.filter((frame) => frame.type === 'ack' || frame.type === 'error')
  const acks = answers.filter((frame) => frame.type === 'ack')
  const acked = acks.map((frame) => (frame.message as { content: string }).content)
  const refused = answers.filter((frame) => frame.type === 'error')
  t.ok(
    refused.every((frame) => frame.code === 'SHUTTING_DOWN'),
    `${acks.length} frames acknowledged before the close, ${refused.length} refused with SHUTTING_DOWN`,
  )
  t.equal(new Set(answers.map((frame) => frame.ref)).size, answers.length, 'no frame answered twice')
  const answeredRefs = new Set(answers.map((frame) => frame.ref))
  t.ok(
    Array.from({ length: count }, (_, i) => `s${i}`).every((ref) => answeredRefs.has(ref)),
    'every frame received before the close started got its answer',
  )

  const db = new BetterSqlite3(dbFile, { readonly: true })
  t.teardown(() => db.close())
  const stored = db.prepare('SELECT content FROM messages WHERE group_id = ? ORDER BY id').all(groupId) as Array<{
    content: string
  }>
  t.same(
    stored.map((row) => row.content),
    acked,
    'what was stored is exactly what was acknowledged: nothing stored without an ack',
  )
})

/** Resolves once the server answers plain HTTP with 503: its close has begun. */
async function closingBegun(port: number): Promise<void> {
  const deadline = Date.now() + 5000
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${port}/ping`).then(
      (res) => res.status,
      () => 0,
    )
    if (status === 503) return
    if (Date.now() > deadline) throw new Error(`the server did not start closing; /ping answered ${status}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('while the close waits for a frame being handled, new frames are refused with SHUTTING_DOWN', async (t) => {
  const hub = new RecordingHub()
  const app = await build(t, { hub })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  const client = await Client.connect(t, port, ava.token)
  const closed = closeOf(client.socket)

  // A frame whose handling has not finished when the close starts (it finishes when the test says).
  let finish: () => void = () => undefined
  const onServer = hub.recorded[0] as SocketConnection
  onServer.enqueue(() => new Promise<void>((resolve) => (finish = resolve)))
  const closing = app.close()
  await closingBegun(port)

  const refusal = await client.request({ type: 'group_message', group_id: groupId, content: 'too late' })
  t.match(refusal, { type: 'error', code: 'SHUTTING_DOWN' }, 'a frame sent during the close is refused')
  t.equal(client.socket.readyState, WebSocket.OPEN, 'the socket stays open until the frame in hand is done')
  finish()
  await closing
  t.equal((await closed).code, CloseCode.GOING_AWAY, 'then it is closed with 1001')
})

t.test('a frame that never finishes holds the close for the grace period only', async (t) => {
  const hub = new RecordingHub()
  const app = await build(t, { hub, shutdownGraceMs: 50 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const client = await Client.connect(t, port, ava.token)
  const closed = closeOf(client.socket)
  ;(hub.recorded[0] as SocketConnection).enqueue(() => new Promise<void>(() => undefined))

  const outcome = await Promise.race([
    app.close().then(() => 'closed'),
    new Promise((resolve) => setTimeout(() => resolve('still closing after 10 s'), 10_000)),
  ])
  t.equal(outcome, 'closed', 'app.close() finished')
  t.equal((await closed).code, CloseCode.GOING_AWAY, 'the socket was still closed with 1001')
})

t.test('socket limits come from options over WS_* variables over the defaults', async (t) => {
  const base = { jwtSecret: TEST_SECRET, dbFile: ':memory:' }
  t.same(resolveConfig({ ...base, env: {} }).sockets, DEFAULT_SOCKET_LIMITS, 'defaults')
  t.same(DEFAULT_SOCKET_LIMITS, {
    heartbeatIntervalMs: 30_000,
    maxBufferedBytes: 1024 * 1024,
    maxFramesPerSecond: 20,
    frameBurst: 200,
    maxSocketsPerUser: 20,
    shutdownGraceMs: 3_000,
    resumeMessagesPerFrame: 10,
  })
  const env = {
    WS_HEARTBEAT_INTERVAL_MS: '1000',
    WS_MAX_BUFFERED_BYTES: '2048',
    WS_MAX_FRAMES_PER_SECOND: '0.5',
    WS_FRAME_BURST: '7',
    WS_MAX_SOCKETS_PER_USER: '0',
    WS_SHUTDOWN_GRACE_MS: '250',
    WS_RESUME_MESSAGES_PER_FRAME: '4',
  }
  t.same(resolveConfig({ ...base, env }).sockets, {
    heartbeatIntervalMs: 1000,
    maxBufferedBytes: 2048,
    maxFramesPerSecond: 0.5,
    frameBurst: 7,
    maxSocketsPerUser: 0,
    shutdownGraceMs: 250,
    resumeMessagesPerFrame: 4,
  })
  t.equal(resolveConfig({ ...base, env, maxBufferedBytes: 4096 }).sockets.maxBufferedBytes, 4096, 'options win')
  t.throws(() => resolveConfig({ ...base, env: { WS_MAX_BUFFERED_BYTES: 'lots' } }), /WS_MAX_BUFFERED_BYTES/)
  t.throws(() => resolveConfig({ ...base, env: {}, frameBurst: 0 }), /frameBurst/)
  t.throws(() => resolveConfig({ ...base, env: {}, maxSocketsPerUser: 1.5 }), /maxSocketsPerUser/)
  t.throws(() => resolveConfig({ ...base, env: {}, heartbeatIntervalMs: -1 }), /heartbeatIntervalMs/)
})
