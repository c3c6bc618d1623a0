// The typed client's socket against the real server, with the `ws` package as its WebSocket: requests settled by
// ack/error, events by type, reconnects in the middle of a stream (the client's socket cut with terminate, the
// server restarted) with every stored message delivered once and in order, idempotent re-sends, auth closes.
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { LocalHub } from '../../../plugins/hub/local-hub.js'
import {
  ChatClient,
  ChatSocketError,
  type ChatSocket,
  type ChatSocketOptions,
  type ConnectionEvent,
  type Message,
} from '../../../src/client/index.js'
import type { ServerFrame } from '../../../src/schemas/frames/index.js'
import { build, listen, settle, tempDir, TEST_SECRET } from '../../helpers.js'

/** `ws` with every socket it opens recorded, so a test can cut the client's connection. */
function trackedWebSocket() {
  const opened: WebSocket[] = []
  class TrackedWebSocket extends WebSocket {
    constructor(url: string) {
      super(url)
      opened.push(this)
    }
  }
  return { TrackedWebSocket, opened }
}

const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 }

let accounts = 0
async function signUp(baseUrl: string, name: string) {
  accounts += 1
  const client = new ChatClient({ baseUrl, WebSocket })
  const username = `${name}${accounts}`
  const { user } = await client.register({
    username,
    email: `${username}@example.com`,
    password: 'correct horse battery',
  })
  return { client, user }
}

/** Opens a socket for `client` and records what happens to it; closed when the test ends. */
function openSocket(t: Test, client: ChatClient, options: ChatSocketOptions = {}) {
  const socket = client.connect({ reconnect: FAST_RECONNECT, ...options })
  t.teardown(() => socket.close())
  const events: ConnectionEvent[] = []
  socket.onConnection((event) => events.push(event))
  const messages: Message[] = []
  socket.on('group_message', (frame) => messages.push(frame))
  socket.on('direct_message', (frame) => messages.push(frame))
  return { socket, events, messages }
}

/** Resolves once `check` holds, polling; fails with `what` after a few seconds. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await settle(10)
  }
}

const opened = (socket: ChatSocket) => until(() => socket.state === 'open', 'the socket to open')

/** Every message id stored in a group and in a direct conversation, read through the REST API. */
async function storedIds(client: ChatClient, groupId: number, peerId: number, afterId: number): Promise<number[]> {
  const ids: number[] = []
  for (const read of [
    (after: number) => client.groupHistory(groupId, { after_id: after, limit: 100 }),
    (after: number) => client.directHistory(peerId, { after_id: after, limit: 100 }),
  ]) {
    let after = afterId
    for (;;) {
      const page = await read(after)
      ids.push(...page.messages.map((m) => m.id))
      if (!page.has_more || page.next_after_id === null) break
      after = page.next_after_id
    }
  }
  return ids.sort((a, b) => a - b)
}

t.test('requests are settled by their ack or error, and frames reach the listeners of their type', async (t) => {
  const app = await build(t)
  const baseUrl = `http://127.0.0.1:${await listen(app)}`
  const ava = await signUp(baseUrl, 'ava')
  const mike = await signUp(baseUrl, 'mike')
  const eve = await signUp(baseUrl, 'eve')
  const group = await ava.client.createGroup('team')
  await ava.client.addMember(group.id, mike.user.id)

  const avaSide = openSocket(t, ava.client)
  const mikeSide = openSocket(t, mike.client)
  const typing: unknown[] = []
  avaSide.socket.on('typing', (frame) => typing.push(frame))
  await Promise.all([opened(avaSide.socket), opened(mikeSide.socket)])
  t.match(avaSide.events, [{ state: 'open', since: 0 }], 'opened, resuming after the newest message (none yet)')

  const sent = await mikeSide.socket.sendGroupMessage(group.id, 'hello')
  t.match(sent, { group_id: group.id, sender_id: mike.user.id, content: 'hello' })
  t.type(sent.client_msg_id, 'string', 'a client_msg_id was generated')
  const chosen = await mikeSide.socket.sendGroupMessage(group.id, { content: 'mine', client_msg_id: 'mike-1' })
  t.equal(chosen.client_msg_id, 'mike-1', 'a given client_msg_id is kept')
  const direct = await avaSide.socket.sendDirectMessage(mike.user.id, { content: 'psst', type: 'text' })
  t.match(direct, { recipient_id: mike.user.id, status: 'SENT', kind: 'text' })
  await until(() => avaSide.messages.length === 3 && mikeSide.messages.length === 3, 'the frames')
  t.same(
    avaSide.messages.map((m) => m.id),
    [sent.id, chosen.id, direct.id],
    'Ava got both group messages and her own direct one (from its ack: her socket gets no frame of it)',
  )
  t.same(
    mikeSide.messages.map((m) => m.id),
    [sent.id, chosen.id, direct.id],
  )
  t.equal(avaSide.socket.lastMessageId, chosen.id, 'the cursor is the newest message delivered')

  t.match(await mikeSide.socket.markRead({ group_id: group.id }, chosen.id), {
    group_id: group.id,
    message_id: chosen.id,
  })
  mikeSide.socket.typing({ group_id: group.id })
  await until(() => typing.length === 1, 'the typing frame')
  t.match(typing, [{ type: 'typing', group_id: group.id, user_id: mike.user.id, state: 'start' }])
  t.match(await avaSide.socket.ping(), { type: 'pong' })

  const eveSide = openSocket(t, eve.client)
  const refused = await eveSide.socket.sendGroupMessage(group.id, 'let me in').catch((error: unknown) => error)
  t.ok(refused instanceof ChatSocketError, 'a refused send rejects with a ChatSocketError')
  t.match(refused, { code: 'NOT_A_MEMBER', clientMsgId: /./ })
  t.match(await eveSide.socket.markRead({ group_id: 999_999 }, 1).catch((error: unknown) => error), {
    code: 'GROUP_NOT_FOUND',
  })
  const tooLarge = await eveSide.socket.sendDirectMessage(ava.user.id, 'x'.repeat(70_000)).catch((e: unknown) => e)
  t.match(tooLarge, { code: 'FRAME_TOO_LARGE' }, 'refused before it is sent: the server would close the socket')
  t.equal(eveSide.socket.state, 'open')
  t.equal((await ava.client.groupHistory(group.id)).count, 2, 'nothing stored by the refused sends')

  const unsubscribe = avaSide.socket.on('group_message', () => t.fail('an unsubscribed listener was called'))
  unsubscribe()
  await mike.client.sendGroupMessage(group.id, 'after unsubscribing')
  await until(() => avaSide.messages.length === 4, 'the frame')

  avaSide.socket.close()
  t.equal(avaSide.socket.state, 'closed')
  t.match(avaSide.events.at(-1), { state: 'closed', authFailed: false })
  t.match(await avaSide.socket.ping().catch((error: unknown) => error), { code: 'SOCKET_CLOSED' })
})

t.test(
  'cut three times in the middle of a stream, the client delivers every stored message once, in order',
  async (t) => {
    const app = await build(t, { rateLimits: false })
    const baseUrl = `http://127.0.0.1:${await listen(app)}`
    const ava = await signUp(baseUrl, 'ava')
    const mike = await signUp(baseUrl, 'mike')
    const group = await ava.client.createGroup('stream')
    await ava.client.addMember(group.id, mike.user.id)
    const before = await mike.client.sendGroupMessage(group.id, 'sent before Ava connects')

    const { TrackedWebSocket, opened: connections } = trackedWebSocket()
    const avaSide = openSocket(t, ava.client, { WebSocket: TrackedWebSocket })
    const replayed: number[] = []
    avaSide.socket.on('system', (frame) => {
      if (frame.code === 'RESUME_COMPLETE') replayed.push(frame.replayed)
    })
    await opened(avaSide.socket)

    // Mike streams group and direct messages to Ava while her socket is cut three times.
    const TOTAL = 240
    const cuts = new Set([40, 110, 180])
    for (let i = 0; i < TOTAL; i += 1) {
      if (i % 3 === 0) await mike.client.sendDirectMessage(ava.user.id, `direct ${i}`)
      else await mike.client.sendGroupMessage(group.id, `group ${i}`)
      if (cuts.has(i)) connections.at(-1)!.terminate()
    }
    const stored = await storedIds(ava.client, group.id, mike.user.id, before.id)
    t.equal(stored.length, TOTAL, 'every message was stored')
    await until(() => avaSide.messages.length >= TOTAL, `${TOTAL} messages`, 30_000)
    await settle(100)

    t.same(
      avaSide.messages.map((m) => m.id),
      stored,
      'exactly the stored ids, in order: nothing lost, nothing doubled',
    )
    t.notOk(
      avaSide.messages.some((m) => m.id === before.id),
      'the message from before connecting is not replayed',
    )
    t.equal(connections.length, 4, 'one connection and three reconnects')
    t.equal(replayed.length, 4, 'every connection resumed')
    t.ok(
      replayed.slice(1).some((count) => count > 0),
      `messages stored while disconnected were replayed: ${replayed.join(', ')}`,
    )
    const reconnects = avaSide.events.filter((e) => e.state === 'reconnecting')
    t.equal(reconnects.length, 3)
    t.match(reconnects[0], { code: 1006, attempt: 1 })
    const resumes = avaSide.events.filter((e) => e.state === 'open').map((e) => (e as { since?: number }).since)
    t.equal(resumes[0], before.id, 'first connected after the newest message')
    t.ok(
      resumes.every((since, i) => i === 0 || since! > resumes[i - 1]!),
      `each reconnect resumed after the last message delivered: ${resumes.join(', ')}`,
    )
  },
)

/** A hub that cuts a client's connection when it is about to deliver a chosen message: stored, never acknowledged. */
class CuttingHub extends LocalHub {
  cut: { content: string; connection: () => WebSocket | undefined } | undefined
  override publish(userIds: Iterable<number>, frame: ServerFrame, except?: Parameters<LocalHub['publish']>[2]) {
    if (this.cut && 'content' in frame && frame.content === this.cut.content) {
      this.cut.connection()?.terminate()
      this.cut = undefined
    }
    return super.publish(userIds, frame, except)
  }
}

t.test(
  'a send whose ack was lost is sent again after the reconnect with its client_msg_id and stored once',
  async (t) => {
    const hub = new CuttingHub()
    const app = await build(t, { hub })
    const baseUrl = `http://127.0.0.1:${await listen(app)}`
    const ava = await signUp(baseUrl, 'ava')
    const mike = await signUp(baseUrl, 'mike')
    const group = await ava.client.createGroup('team')
    await ava.client.addMember(group.id, mike.user.id)
    const { TrackedWebSocket, opened: connections } = trackedWebSocket()
    const avaSide = openSocket(t, ava.client, { WebSocket: TrackedWebSocket })
    await opened(avaSide.socket)

    // Stored, then Ava's connection is cut before the frame or the ack reaches her.
    hub.cut = { content: 'lost ack', connection: () => connections.at(-1) }
    const sent = await avaSide.socket.sendGroupMessage(group.id, 'lost ack')
    t.equal(connections.length, 2, 'it took a reconnect')
    const history = await ava.client.groupHistory(group.id)
    t.same(
      history.messages.map((m) => [m.id, m.content]),
      [[sent.id, 'lost ack']],
      'stored once',
    )
    await until(() => avaSide.messages.length === 1, 'the replayed frame')
    await settle(100)
    t.same(
      avaSide.messages.map((m) => m.id),
      [sent.id],
      'delivered once: replayed on the resume',
    )

    // The same for a direct message: replayed on the resume, then acknowledged as a duplicate; one event.
    hub.cut = { content: 'lost direct ack', connection: () => connections.at(-1) }
    const direct = await avaSide.socket.sendDirectMessage(mike.user.id, 'lost direct ack')
    t.equal(connections.length, 3)
    t.same(
      (await ava.client.directHistory(mike.user.id)).messages.map((m) => m.id),
      [direct.id],
      'stored once',
    )
    await settle(150)
    t.same(
      avaSide.messages.map((m) => m.id),
      [sent.id, direct.id],
      'her own direct message is delivered once',
    )

    // Sent while disconnected: kept until the socket is back.
    connections.at(-1)!.terminate()
    await until(() => avaSide.socket.state === 'reconnecting', 'the disconnect')
    const queued = await avaSide.socket.sendGroupMessage(group.id, 'while away')
    t.equal(queued.content, 'while away')
    t.equal((await ava.client.groupHistory(group.id)).count, 2)
  },
)

t.test('the socket reconnects and resumes across a server restart', async (t) => {
  const dir = tempDir(t)
  const options = { dbFile: join(dir, 'restart.db'), shutdownGraceMs: 200 }
  let app: FastifyInstance = await build(t, options)
  const port = await listen(app)
  const baseUrl = `http://127.0.0.1:${port}`
  const ava = await signUp(baseUrl, 'ava')
  const mike = await signUp(baseUrl, 'mike')
  const group = await ava.client.createGroup('team')
  await ava.client.addMember(group.id, mike.user.id)
  const avaSide = openSocket(t, ava.client)
  await opened(avaSide.socket)
  await mike.client.sendGroupMessage(group.id, 'before the restart')
  await until(() => avaSide.messages.length === 1, 'the first message')

  // Sent as the shutdown begins: answered before the close, refused with SHUTTING_DOWN, or not read at all,
  // the client keeps it until it is acknowledged, after the restart if need be.
  let refusedAtShutdown = 0
  avaSide.socket.on('error', (frame) => {
    if (frame.code === 'SHUTTING_DOWN') refusedAtShutdown += 1
  })
  const closing = app.close()
  const duringShutdown = avaSide.socket.sendGroupMessage(group.id, 'sent as the server shuts down')
  await closing
  await until(() => avaSide.socket.state === 'reconnecting', 'the disconnect')
  t.match(
    avaSide.events.find((e) => e.state === 'reconnecting'),
    { code: 1001 },
    'closed with 1001 by the shutdown',
  )
  // While the server is down a send waits; the message it carries is stored once the server is back.
  const waiting = avaSide.socket.sendGroupMessage(group.id, 'sent while the server was down')
  app = await build(t, options)
  await app.listen({ port, host: '127.0.0.1' })
  await mike.client.sendGroupMessage(group.id, 'after the restart')
  await waiting
  const shutdownSend = await duringShutdown
  await until(() => avaSide.messages.length === 4, 'the messages after the restart')
  await settle(100)
  const history = await ava.client.groupHistory(group.id)
  t.same(
    history.messages.map((m) => m.content).sort(),
    ['after the restart', 'before the restart', 'sent as the server shuts down', 'sent while the server was down'],
    `every message stored once (the shutdown's SHUTTING_DOWN errors: ${refusedAtShutdown})`,
  )
  t.same(
    avaSide.messages.map((m) => m.id),
    history.messages.map((m) => m.id),
    'and delivered once, in id order',
  )
  t.equal(
    history.messages.find((m) => m.content === 'sent as the server shuts down')?.id,
    shutdownSend.id,
    'the send resolved with the stored message',
  )
})

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
function signToken(payload: Record<string, unknown>): string {
  const unsigned = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}`
  return `${unsigned}.${createHmac('sha256', TEST_SECRET).update(unsigned).digest('base64url')}`
}

t.test('a refused token stops the reconnects and tells the app: 4003, 4001, 401 before the upgrade', async (t) => {
  const app = await build(t)
  const baseUrl = `http://127.0.0.1:${await listen(app)}`
  const ava = await signUp(baseUrl, 'ava')

  // Logged out elsewhere: 4003.
  const { TrackedWebSocket, opened: connections } = trackedWebSocket()
  const revoked = new ChatClient({ baseUrl, token: ava.client.token! })
  const revokedSide = openSocket(t, revoked, { WebSocket: TrackedWebSocket })
  await opened(revokedSide.socket)
  const pendingDuringClose = new Promise<unknown>((resolve) => {
    revokedSide.socket.onConnection((event) => {
      if (event.state === 'closed') resolve(event)
    })
  })
  await ava.client.logout()
  t.match(await pendingDuringClose, { state: 'closed', code: 4003, reason: 'TOKEN_REVOKED', authFailed: true })
  await settle(300)
  t.equal(connections.length, 1, 'no reconnect with a revoked token')
  t.match(await revokedSide.socket.ping().catch((error: unknown) => error), { code: 'SOCKET_CLOSED' })

  // Expired while open: 4001.
  const now = Math.floor(Date.now() / 1000)
  const shortLived = signToken({
    sub: String(ava.user.id),
    username: ava.user.username,
    jti: 'short',
    iat: now,
    exp: now + 2,
  })
  const expiring = openSocket(t, new ChatClient({ baseUrl, token: shortLived, WebSocket }))
  await opened(expiring.socket)
  await until(() => expiring.socket.state === 'closed', 'the expiry', 6_000)
  t.match(expiring.events.at(-1), { state: 'closed', code: 4001, reason: 'TOKEN_EXPIRED', authFailed: true })

  // Refused before the upgrade (401): the client asks the REST API why, and stops.
  const bad = openSocket(t, new ChatClient({ baseUrl, token: 'not-a-token', WebSocket }))
  await until(() => bad.socket.state === 'closed', 'the refusal')
  t.match(bad.events, [{ state: 'closed', reason: 'INVALID_TOKEN', authFailed: true }], 'closed at once, no retry')
})

t.test('a server that cannot be reached is retried with growing delays, up to maxAttempts', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const baseUrl = `http://127.0.0.1:${port}`
  const ava = await signUp(baseUrl, 'ava')
  await app.close()
  const side = openSocket(t, ava.client, {
    since: 0,
    reconnect: { initialDelayMs: 10, factor: 2, jitter: 0, maxAttempts: 4 },
  })
  await until(() => side.socket.state === 'closed', 'giving up')
  const delays = side.events.filter((e) => e.state === 'reconnecting').map((e) => (e as { delayMs: number }).delayMs)
  t.same(delays, [10, 20, 40, 80], 'exponential backoff')
  t.match(side.events.at(-1), { state: 'closed', authFailed: false })
})
