import { join } from 'node:path'
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import t from 'tap'
import { openSqlite } from '../../plugins/db.js'
import type { Message } from '../../src/schemas/message.js'
import { build, Client, createGroup, listen, register, settle, tempDir, upgradeStatus, type Frame } from '../helpers.js'

const messageIds = (frames: Frame[]) =>
  frames.filter((f) => f.type === 'group_message' || f.type === 'direct_message').map((f) => f.id as number)

t.test('a client that reconnects with since= gets everything it missed, in order, then live', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const outsider = await register(app, 'out')
  const groupId = await createGroup(app, ava, [mike])
  const otherGroup = await createGroup(app, ava, [], 'ava-only')
  const post = async (url: string, auth: { authorization: string }, content: string) => {
    const res = await app.inject({ method: 'POST', url, headers: auth, payload: { content } })
    t.equal(res.statusCode, 201)
    return res.json<{ id: number }>().id
  }

  const seen = await post(`/v1/messages/group/${groupId}`, ava.auth, 'before the outage')
  const missed = [
    await post(`/v1/messages/group/${groupId}`, ava.auth, 'missed 1'),
    await post(`/v1/messages/p2p/${mike.id}`, ava.auth, 'missed dm'),
    await post(`/v1/messages/group/${groupId}`, ava.auth, 'missed 2'),
    await post(`/v1/messages/p2p/${ava.id}`, mike.auth, 'my own dm from another device'),
  ]
  await post(`/v1/messages/group/${otherGroup}`, ava.auth, 'not my group')
  await post(`/v1/messages/p2p/${ava.id}`, outsider.auth, 'not my conversation')

  const mikeSocket = await Client.connect(t, port, mike.token, `&since=${seen}`)
  const done = await mikeSocket.waitFor((f) => f.type === 'system')
  t.match(done, { code: 'RESUME_COMPLETE', since: seen, replayed: 4, last_id: missed[3] })
  t.same(messageIds(mikeSocket.frames), missed, 'exactly the missed messages of my conversations, in id order')
  t.ok(mikeSocket.frames.indexOf(done) === 4, 'the completion comes after the backlog')

  const live = await post(`/v1/messages/group/${groupId}`, ava.auth, 'live again')
  await mikeSocket.waitFor((f) => f.id === live)
  t.same(messageIds(mikeSocket.frames), [...missed, live])
})

t.test('no gap and no duplicate while messages keep arriving during the hand-over', async (t) => {
  const app = await build(t, { rateLimits: false }) // 450 sends by one user: over the send budget
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const senders = await Promise.all([1, 2, 3].map(() => Client.connect(t, port, ava.token)))

  // Three streams of messages; Mike reconnects five times in the middle of them.
  const perSender = 150
  const acked: number[] = []
  const streaming = Promise.all(
    senders.map(async (sender, s) => {
      for (let i = 0; i < perSender; i++) {
        const ack = await sender.request({ type: 'group_message', group_id: groupId, content: `s${s} m${i}` })
        acked.push((ack.message as { id: number }).id)
      }
    }),
  )
  const resumes: Array<{ since: number; client: Client }> = []
  for (const after of [30, 90, 150, 250, 350]) {
    while (acked.length < after) await settle(2)
    const since = Math.max(...acked)
    resumes.push({ since, client: await Client.connect(t, port, mike.token, `&since=${since}`) })
  }
  await streaming
  const all = [...acked].sort((a, b) => a - b)
  const last = all[all.length - 1] as number
  for (const { since, client } of resumes) {
    await client.waitFor((f) => f.id === last)
    t.same(
      messageIds(client.frames),
      all.filter((id) => id > since),
      `since=${since}: everything after it, once, in order`,
    )
  }
})

t.test('a resume frame on an open socket replays from its cursor', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  const ids: number[] = []
  for (const content of ['a', 'b', 'c']) {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: ava.auth,
      payload: { content },
    })
    ids.push(res.json<{ id: number }>().id)
  }
  const socket = await Client.connect(t, port, mike.token)
  const ack = await socket.request({ type: 'resume', since: ids[0] })
  t.match(ack, { type: 'ack', replayed: 2, truncated: false })
  t.same(messageIds(socket.frames), ids.slice(1))
  t.match(await socket.request({ type: 'resume', since: -1 }), { type: 'error', code: 'VALIDATION_ERROR' })
  t.match(await socket.request({ type: 'resume' }), { type: 'error', code: 'VALIDATION_ERROR' })
})

t.test('a backlog over the limit is announced instead of replayed, and live frames continue', async (t) => {
  const app = await build(t, { resumeLimit: 5 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])
  for (let i = 0; i < 8; i++) {
    await app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: ava.auth,
      payload: { content: `m${i}` },
    })
  }
  const socket = await Client.connect(t, port, mike.token, '&since=0')
  t.match(await socket.waitFor((f) => f.type === 'system'), { code: 'RESUME_LIMIT_EXCEEDED', since: 0, limit: 5 })
  const live = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: ava.auth,
    payload: { content: 'now' },
  })
  const liveId = live.json<{ id: number }>().id
  await socket.waitFor((f) => f.id === liveId)
  t.same(messageIds(socket.frames), [liveId], 'no partial backlog: the client pages through history instead')
})

t.test(
  'a pending direct message is delivered once to a resuming socket, and a left group replays nothing',
  async (t) => {
    const app = await build(t)
    const port = await listen(app)
    const ava = await register(app, 'ava')
    const mike = await register(app, 'mike')
    const groupId = await createGroup(app, ava, [mike])
    const dm = await app.inject({
      method: 'POST',
      url: `/v1/messages/p2p/${mike.id}`,
      headers: ava.auth,
      payload: { content: 'while you were away' },
    })
    t.equal(dm.json<Message>().status, 'PENDING')
    const left = await app.inject({
      method: 'DELETE',
      url: `/v1/groups/${groupId}/members/${mike.id}`,
      headers: mike.auth,
    })
    t.equal(left.statusCode, 200)
    await app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: ava.auth,
      payload: { content: 'after mike left' },
    })

    const socket = await Client.connect(t, port, mike.token, '&since=0')
    await socket.waitFor((f) => f.type === 'system')
    await settle(150)
    t.same(messageIds(socket.frames), [dm.json<Message>().id], 'the direct message once; nothing from the group left')
    const history = await app.inject({ method: 'GET', url: `/v1/messages/history/${mike.id}`, headers: ava.auth })
    t.equal(history.json<{ messages: Message[] }>().messages[0]?.status, 'DELIVERED', 'and it counts as delivered')
  },
)

t.test('a bad since is refused before the upgrade', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  for (const since of ['-1', 'abc', '1.5']) {
    t.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws?token=${ava.token}&since=${since}`), 400, `since=${since}`)
  }
})

t.test('a resume that fails on the database closes the socket with 1011 instead of hanging', async (t) => {
  /** Fails the backlog read, as a database outage would. */
  class FailingBacklog implements KyselyPlugin {
    private readonly failing = new Set<unknown>()
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      const shape = JSON.stringify(args.node)
      if (
        args.node.kind === 'SelectQueryNode' &&
        shape.includes('"recipient_id"') &&
        shape.includes('"group_members"')
      ) {
        this.failing.add(args.queryId)
      }
      return args.node
    }
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      if (this.failing.delete(args.queryId)) throw new Error('database went away')
      return args.result
    }
  }
  const db = openSqlite(join(tempDir(t), 'failing.db')).withPlugin(new FailingBacklog())
  t.teardown(() => db.destroy())
  const app = await build(t, { db })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const socket = await Client.connect(t, port, ava.token, '&since=0')
  const code = await new Promise<number>((resolve) => socket.socket.once('close', (closeCode) => resolve(closeCode)))
  t.equal(code, 1011)
  const fresh = await Client.connect(t, port, ava.token)
  t.match(await fresh.request({ type: 'ping' }), { type: 'pong' }, 'the server carries on')
})
