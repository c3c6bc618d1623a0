import { FormatRegistry } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import t, { type Test } from 'tap'
import { createStores, type Stores } from '../../plugins/store/index.js'
import type { Database } from '../../src/database.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import { MessageDeletedOut, MessageUpdatedOut, ReactionOut } from '../../src/schemas/frames/index.js'
import type { Message as StoredMessage } from '../../src/schemas/message.js'
import { build, Client, createGroup, listen, register, settle, testDb, type Account, type Frame } from '../helpers.js'

interface ReactionBody {
  message_id: number
  emoji: string
  user_id: number
  action: string
  counts: Array<{ emoji: string; count: number }>
}

type Response = Awaited<ReturnType<FastifyInstance['inject']>>

// Value.Check knows no string formats until told; the frames carry ISO times.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value)))
}

const UNKNOWN_ID = 999_999

async function send(
  t: Test,
  app: FastifyInstance,
  who: Account,
  groupId: number,
  payload: Record<string, unknown> | string,
): Promise<StoredMessage> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/messages/group/${groupId}`,
    headers: who.auth,
    payload: typeof payload === 'string' ? { content: payload } : payload,
  })
  t.equal(res.statusCode, 201, 'message stored')
  return res.json<StoredMessage>()
}

/** The app on a database the test also holds, to arrange what no route of this part does. */
interface Server {
  app: FastifyInstance
  db: Kysely<Database>
  stores: Stores
}

async function buildWithDb(t: Test): Promise<Server> {
  const db = await testDb(t)
  t.teardown(() => db.destroy())
  const app = await build(t, { db })
  return { app, db, stores: createStores(db) }
}

/** Stores a direct message straight into the table, as the direct-message store does. */
async function sendDirect(db: Kysely<Database>, from: Account, to: Account, content: string): Promise<number> {
  const pair = [from.id, to.id].sort((a, b) => a - b).join(':')
  const row = await db
    .insertInto('messages')
    .values({
      group_id: null,
      recipient_id: to.id,
      dm_pair: pair,
      sender_id: from.id,
      kind: 'text',
      content,
      media_url: null,
      reply_to_id: null,
      client_msg_id: null,
      status: 'SENT',
      created_at: new Date().toISOString(),
      edited_at: null,
      deleted_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

/** A direct message as the history shows it: the stored message with its reaction counts. */
async function readDirect(stores: Stores, messageId: number): Promise<StoredMessage | undefined> {
  const message = await stores.messages.find(messageId)
  if (!message) return undefined
  const reactions = (await stores.messages.reactionCounts([messageId])).get(messageId)
  return reactions ? { ...message, reactions } : message
}

async function history(t: Test, app: FastifyInstance, who: Account, groupId: number): Promise<StoredMessage[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/groups/${groupId}/messages`, headers: who.auth })
  t.equal(res.statusCode, 200, 'history readable')
  return res.json<{ messages: StoredMessage[] }>().messages
}

const edit = (app: FastifyInstance, who: Account | undefined, id: number | string, payload: unknown, headers = {}) =>
  app.inject({
    method: 'PATCH',
    url: `/v1/messages/${id}`,
    headers: { ...(who?.auth ?? {}), ...headers },
    ...(payload === undefined ? {} : { payload: payload as string }),
  })

const remove = (app: FastifyInstance, who: Account | undefined, id: number | string) =>
  app.inject({ method: 'DELETE', url: `/v1/messages/${id}`, headers: who?.auth ?? {} })

const react = (app: FastifyInstance, who: Account | undefined, id: number | string, payload: unknown) =>
  app.inject({
    method: 'POST',
    url: `/v1/messages/${id}/reactions`,
    headers: who?.auth ?? {},
    payload: payload as string,
  })

const unreact = (app: FastifyInstance, who: Account | undefined, id: number | string, emoji: string, raw = false) =>
  app.inject({
    method: 'DELETE',
    url: `/v1/messages/${id}/reactions/${raw ? emoji : encodeURIComponent(emoji)}`,
    headers: who?.auth ?? {},
  })

function refused(t: Test, res: Response, status: number, code: string, what: string) {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  const body = res.json<ErrorBody>()
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.statusCode, status, `${what}: statusCode in body`)
  t.type(body.error, 'string', `${what}: has an error sentence`)
}

const ofType = (client: Client, type: string) => client.frames.filter((frame) => frame.type === type)
/** The frames this part sends; other parts' frames (presence, membership) may arrive beside them. */
const ACTION_FRAMES = new Set(['message_updated', 'message_deleted', 'reaction'])
const actionFrames = (client: Client) => client.frames.filter((frame) => ACTION_FRAMES.has(frame.type))
const withoutType = ({ type: _type, ...rest }: Frame) => rest

/** Three members (ava owns, mike and zoe are members), an outsider, and a socket for each. */
async function setup(t: Test) {
  const { app, db } = await buildWithDb(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const outsider = await register(app, 'out')
  const groupId = await createGroup(app, ava, [mike, zoe])
  const sockets = {
    ava: await Client.connect(t, port, ava.token),
    mikePhone: await Client.connect(t, port, mike.token),
    mikeLaptop: await Client.connect(t, port, mike.token),
    zoe: await Client.connect(t, port, zoe.token),
    outsider: await Client.connect(t, port, outsider.token),
  }
  return { app, db, port, ava, mike, zoe, outsider, groupId, sockets }
}

t.test('the author edits a message: 200 with edited_at, members get message_updated, outsiders nothing', async (t) => {
  const { app, mike, ava, groupId, sockets } = await setup(t)
  const original = await send(t, app, mike, groupId, 'helo')
  const other = await send(t, app, ava, groupId, 'untouched')

  const res = await edit(app, mike, original.id, { content: 'hello' })
  t.equal(res.statusCode, 200)
  const edited = res.json<StoredMessage>()
  t.match(edited, { id: original.id, group_id: groupId, sender_id: mike.id, content: 'hello', deleted: false })
  t.equal(edited.timestamp, original.timestamp, 'the send time is kept')
  t.ok(edited.edited_at && !Number.isNaN(Date.parse(edited.edited_at)), 'edited_at is an ISO time')

  for (const name of ['ava', 'mikePhone', 'mikeLaptop', 'zoe'] as const) {
    const frame = await sockets[name].waitFor((f) => f.type === 'message_updated')
    t.same(withoutType(frame), edited, `${name} got the edited message`)
    t.ok(Value.Check(MessageUpdatedOut, frame), `${name}: the frame matches its schema`)
  }
  await settle()
  t.same(actionFrames(sockets.outsider), [], 'the outsider received nothing')
  t.equal(ofType(sockets.zoe, 'message_updated').length, 1, 'one frame per edit')

  const messages = await history(t, app, ava, groupId)
  t.same(
    messages,
    [{ ...original, content: 'hello', edited_at: edited.edited_at }, other],
    'history shows the edit only',
  )
})

t.test('edit refusals: each is a clear 4xx, sends no frame and leaves history unchanged', async (t) => {
  const { app, ava, mike, zoe, outsider, groupId, sockets } = await setup(t)
  const mikes = await send(t, app, mike, groupId, 'mike wrote this')
  const avas = await send(t, app, ava, groupId, 'ava wrote this')
  const doomed = await send(t, app, mike, groupId, 'about to be deleted')
  t.equal((await remove(app, mike, doomed.id)).statusCode, 200)
  const otherGroup = await createGroup(app, outsider, [], 'elsewhere')
  const elsewhere = await send(t, app, outsider, otherGroup, 'not for ava')
  await settle()
  for (const client of Object.values(sockets)) client.frames.length = 0
  const before = await history(t, app, ava, groupId)

  refused(t, await edit(app, zoe, mikes.id, { content: 'zoe edits' }), 403, 'NOT_MESSAGE_AUTHOR', 'another member')
  refused(t, await edit(app, ava, mikes.id, { content: 'owner edits' }), 403, 'NOT_MESSAGE_AUTHOR', 'the owner')
  refused(t, await edit(app, mike, avas.id, { content: 'mike edits' }), 403, 'NOT_MESSAGE_AUTHOR', 'member on owner')
  refused(t, await edit(app, outsider, mikes.id, { content: 'x' }), 404, 'MESSAGE_NOT_FOUND', 'a non-member')
  refused(t, await edit(app, ava, elsewhere.id, { content: 'x' }), 404, 'MESSAGE_NOT_FOUND', 'in a group not mine')
  refused(t, await edit(app, ava, UNKNOWN_ID, { content: 'x' }), 404, 'MESSAGE_NOT_FOUND', 'an unknown id')
  refused(t, await edit(app, mike, doomed.id, { content: 'revive' }), 409, 'MESSAGE_DELETED', 'a deleted message')
  refused(t, await edit(app, undefined, mikes.id, { content: 'x' }), 401, 'MISSING_TOKEN', 'no token')
  for (const id of ['abc', '0', '-1', '1.5']) {
    refused(t, await edit(app, mike, id, { content: 'x' }), 400, 'VALIDATION_ERROR', `message id ${id}`)
  }
  const bodies: Array<[string, unknown]> = [
    ['missing content', {}],
    ['numeric content', { content: 123 }],
    ['null content', { content: null }],
    ['empty content', { content: '' }],
    ['16001 characters', { content: 'x'.repeat(16_001) }],
    ['an array body', [{ content: 'x' }]],
  ]
  for (const [what, payload] of bodies) {
    const res = await edit(app, mike, mikes.id, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, /content|object/, `${what}: names the problem`)
  }
  refused(
    t,
    await edit(app, mike, mikes.id, '{"content":', { 'content-type': 'application/json' }),
    400,
    'INVALID_JSON',
    'broken JSON',
  )
  refused(
    t,
    await edit(app, mike, mikes.id, 'plain', { 'content-type': 'text/plain' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    'a text/plain body',
  )

  t.same(await history(t, app, ava, groupId), before, 'history unchanged')
  t.same(
    (await history(t, app, outsider, otherGroup)).map((m) => m.content),
    ['not for ava'],
    'the other group too',
  )
  await settle()
  for (const [name, client] of Object.entries(sockets)) t.same(actionFrames(client), [], `${name} got no frame`)
})

t.test('the author deletes a message: members get message_deleted, history keeps a tombstone', async (t) => {
  const { app, ava, mike, groupId, sockets } = await setup(t)
  const picture = await send(t, app, mike, groupId, {
    content: 'look at this',
    type: 'image',
    media_url: 'https://example.com/cat.png',
  })
  const kept = await send(t, app, ava, groupId, 'stays')
  t.equal((await react(app, ava, picture.id, { emoji: '😺' })).statusCode, 201)

  const res = await remove(app, mike, picture.id)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: 'Message deleted', id: picture.id })

  const expected = { type: 'message_deleted', id: picture.id, group_id: groupId, sender_id: mike.id }
  for (const name of ['ava', 'mikePhone', 'mikeLaptop', 'zoe'] as const) {
    const frame = await sockets[name].waitFor((f) => f.type === 'message_deleted')
    t.same(frame, expected, `${name} was told`)
    t.ok(Value.Check(MessageDeletedOut, frame), `${name}: the frame matches its schema`)
  }

  const messages = await history(t, app, ava, groupId)
  t.same(
    messages,
    [{ ...picture, content: '', media_url: null, deleted: true }, kept],
    'a tombstone without content, media or reactions; the other message untouched',
  )

  const again = await remove(app, mike, picture.id)
  t.equal(again.statusCode, 200, 'deleting again is 200 (idempotent)')
  t.same(again.json(), { message: 'Message was already deleted; nothing changed', id: picture.id })
  await settle()
  t.equal(ofType(sockets.zoe, 'message_deleted').length, 1, 'no second frame')
  t.same(actionFrames(sockets.outsider), [], 'the outsider received nothing')
  t.same(await history(t, app, ava, groupId), messages, 'history unchanged by the repeat')
})

t.test('the owner and an admin may delete anyone’s message in their group; a member may not', async (t) => {
  const { app, db, ava, mike, zoe, outsider, groupId, sockets } = await setup(t)
  await db
    .updateTable('group_members')
    .set({ role: 'admin' })
    .where('group_id', '=', groupId)
    .where('user_id', '=', zoe.id)
    .execute()
  const first = await send(t, app, mike, groupId, 'first')
  const second = await send(t, app, mike, groupId, 'second')
  const avas = await send(t, app, ava, groupId, 'the owner’s')
  // zoe is an admin here, but a plain member of mike's own group.
  const mikesGroup = await createGroup(app, mike, [zoe, ava], 'mikes')
  const inMikesGroup = await send(t, app, ava, mikesGroup, 'ava in mike’s group')
  const before = await history(t, app, ava, groupId)
  const beforeMikes = await history(t, app, mike, mikesGroup)

  refused(t, await remove(app, zoe, inMikesGroup.id), 403, 'NOT_MESSAGE_AUTHOR', 'admin elsewhere, member here')
  refused(t, await remove(app, mike, avas.id), 403, 'NOT_MESSAGE_AUTHOR', 'a member deleting the owner’s')
  refused(t, await remove(app, outsider, first.id), 404, 'MESSAGE_NOT_FOUND', 'a non-member')
  refused(t, await remove(app, outsider, UNKNOWN_ID), 404, 'MESSAGE_NOT_FOUND', 'an unknown id')
  refused(t, await remove(app, undefined, first.id), 401, 'MISSING_TOKEN', 'no token')
  refused(t, await remove(app, ava, 'abc'), 400, 'VALIDATION_ERROR', 'id abc')
  t.same(await history(t, app, ava, groupId), before, 'history unchanged by the refusals')
  t.same(await history(t, app, mike, mikesGroup), beforeMikes, 'the other group too')
  await settle()
  t.same(ofType(sockets.mikePhone, 'message_deleted'), [], 'no frame for a refusal')

  t.equal((await remove(app, ava, first.id)).statusCode, 200, 'the owner deletes a member’s message')
  t.equal((await remove(app, zoe, second.id)).statusCode, 200, 'an admin deletes a member’s message')
  t.equal((await remove(app, zoe, avas.id)).statusCode, 200, 'an admin deletes the owner’s message')
  const deleted = (await history(t, app, mike, groupId)).map((m) => [m.id, m.deleted, m.content])
  t.same(deleted, [
    [first.id, true, ''],
    [second.id, true, ''],
    [avas.id, true, ''],
  ])
  await sockets.mikeLaptop.waitFor((f) => f.type === 'message_deleted' && f.id === avas.id)
  await settle()
  t.same(
    ofType(sockets.mikeLaptop, 'message_deleted').map((f) => f.id),
    [first.id, second.id, avas.id],
    'one frame per delete, in order',
  )
  t.same(ofType(sockets.outsider, 'message_deleted'), [], 'the outsider received nothing')
  t.same(await history(t, app, mike, mikesGroup), beforeMikes, 'mike’s group untouched')
})

t.test('reactions: add, repeat, another user, history counts, remove', async (t) => {
  const { app, ava, mike, zoe, groupId, sockets } = await setup(t)
  const message = await send(t, app, mike, groupId, 'react to me')
  const plain = await send(t, app, mike, groupId, 'no reactions here')

  const added = await react(app, ava, message.id, { emoji: '👍' })
  t.equal(added.statusCode, 201, 'added: 201')
  t.same(added.json(), {
    message_id: message.id,
    emoji: '👍',
    user_id: ava.id,
    action: 'added',
    counts: [{ emoji: '👍', count: 1 }],
  })
  const expected = { type: 'reaction', message_id: message.id, emoji: '👍', user_id: ava.id, action: 'added' }
  for (const name of ['ava', 'mikePhone', 'mikeLaptop', 'zoe'] as const) {
    const frame = await sockets[name].waitFor((f) => f.type === 'reaction')
    t.same(frame, expected, `${name} was told`)
    t.ok(Value.Check(ReactionOut, frame), `${name}: the frame matches its schema`)
  }

  const repeat = await react(app, ava, message.id, { emoji: '👍' })
  t.equal(repeat.statusCode, 200, 'the same reaction again: 200')
  t.match(repeat.json(), { action: 'unchanged', counts: [{ emoji: '👍', count: 1 }] })

  t.equal((await react(app, zoe, message.id, { emoji: '👍' })).statusCode, 201)
  const party = await react(app, zoe, message.id, { emoji: ':party:' })
  t.equal(party.statusCode, 201)
  t.same(party.json<ReactionBody>().counts, [
    { emoji: '👍', count: 2 },
    { emoji: ':party:', count: 1 },
  ])

  const messages = await history(t, app, mike, groupId)
  t.same(messages[0]?.reactions, [
    { emoji: '👍', count: 2 },
    { emoji: ':party:', count: 1 },
  ])
  t.notOk('reactions' in (messages[1] ?? {}), 'a message without reactions has no `reactions`')
  t.same(messages[1], plain)

  const removed = await unreact(app, zoe, message.id, '👍')
  t.equal(removed.statusCode, 200)
  t.same(removed.json(), {
    message_id: message.id,
    emoji: '👍',
    user_id: zoe.id,
    action: 'removed',
    counts: [
      { emoji: '👍', count: 1 },
      { emoji: ':party:', count: 1 },
    ],
  })
  const removedFrame = await sockets.ava.waitFor((f) => f.type === 'reaction' && f.action === 'removed')
  t.same(removedFrame, { type: 'reaction', message_id: message.id, emoji: '👍', user_id: zoe.id, action: 'removed' })
  t.ok(Value.Check(ReactionOut, removedFrame))

  refused(t, await unreact(app, zoe, message.id, '👍'), 404, 'REACTION_NOT_FOUND', 'removing twice')
  refused(t, await unreact(app, mike, message.id, '👍'), 404, 'REACTION_NOT_FOUND', 'someone else’s reaction')
  refused(t, await unreact(app, mike, plain.id, ':party:'), 404, 'REACTION_NOT_FOUND', 'never reacted')

  await settle()
  t.equal(ofType(sockets.zoe, 'reaction').length, 4, 'added ×3 and removed ×1; the repeat sent nothing')
  t.same(actionFrames(sockets.outsider), [], 'the outsider received nothing')
  t.same(
    (await history(t, app, ava, groupId))[0]?.reactions,
    [
      { emoji: '👍', count: 1 },
      { emoji: ':party:', count: 1 },
    ],
    'ava’s 👍 survived zoe’s removal',
  )
})

t.test('reaction refusals leave the counts unchanged and send no frame', async (t) => {
  const { app, ava, mike, outsider, groupId, sockets } = await setup(t)
  const message = await send(t, app, mike, groupId, 'react to me')
  const doomed = await send(t, app, mike, groupId, 'will be deleted')
  t.equal((await react(app, ava, message.id, { emoji: '👍' })).statusCode, 201)
  t.equal((await react(app, ava, doomed.id, { emoji: '👍' })).statusCode, 201)
  t.equal((await remove(app, mike, doomed.id)).statusCode, 200)
  await settle()
  for (const client of Object.values(sockets)) client.frames.length = 0
  const before = await history(t, app, ava, groupId)
  t.same(before[0]?.reactions, [{ emoji: '👍', count: 1 }])
  t.notOk('reactions' in (before[1] ?? {}), 'a tombstone shows no reactions')

  refused(t, await react(app, outsider, message.id, { emoji: '👍' }), 404, 'MESSAGE_NOT_FOUND', 'non-member adds')
  refused(t, await unreact(app, outsider, message.id, '👍'), 404, 'MESSAGE_NOT_FOUND', 'non-member removes')
  refused(t, await react(app, ava, UNKNOWN_ID, { emoji: '👍' }), 404, 'MESSAGE_NOT_FOUND', 'unknown message')
  refused(t, await unreact(app, ava, UNKNOWN_ID, '👍'), 404, 'MESSAGE_NOT_FOUND', 'unknown message, remove')
  refused(t, await react(app, ava, doomed.id, { emoji: '🎉' }), 409, 'MESSAGE_DELETED', 'add on a deleted message')
  refused(t, await unreact(app, ava, doomed.id, '👍'), 409, 'MESSAGE_DELETED', 'remove on a deleted message')
  refused(t, await react(app, undefined, message.id, { emoji: '👍' }), 401, 'MISSING_TOKEN', 'no token')
  refused(t, await unreact(app, undefined, message.id, '👍'), 401, 'MISSING_TOKEN', 'no token, remove')
  refused(t, await react(app, ava, 'abc', { emoji: '👍' }), 400, 'VALIDATION_ERROR', 'message id abc')

  const badEmoji: Array<[string, unknown]> = [
    ['missing emoji', {}],
    ['numeric emoji', { emoji: 1 }],
    ['null emoji', { emoji: null }],
    ['empty emoji', { emoji: '' }],
    ['whitespace only', { emoji: '   ' }],
    ['inner whitespace', { emoji: 'thumbs up' }],
    ['leading whitespace', { emoji: ' 👍' }],
    ['a newline', { emoji: '👍\n' }],
    ['a control character', { emoji: 'a\u0007' }],
    ['33 characters', { emoji: 'x'.repeat(33) }],
    ['9 emoji: 36 bytes of UTF-8', { emoji: '👍'.repeat(9) }],
  ]
  for (const [what, payload] of badEmoji) {
    const res = await react(app, ava, message.id, payload)
    refused(t, res, 400, 'VALIDATION_ERROR', what)
    t.match(res.json<ErrorBody>().error, /emoji/, `${what}: names the field`)
  }
  for (const [what, emoji] of [
    ['whitespace in the path', '%20'],
    ['33 characters in the path', 'x'.repeat(33)],
    ['a control character in the path', '%07'],
  ] as const) {
    refused(t, await unreact(app, ava, message.id, emoji, true), 400, 'VALIDATION_ERROR', what)
  }

  t.same(await history(t, app, ava, groupId), before, 'history and counts unchanged')
  await settle()
  for (const [name, client] of Object.entries(sockets)) t.same(actionFrames(client), [], `${name} got no frame`)

  const longest = await react(app, ava, message.id, { emoji: 'x'.repeat(32) })
  t.equal(longest.statusCode, 201, '32 characters are accepted')
  t.equal((await unreact(app, ava, message.id, 'x'.repeat(32))).statusCode, 200, '…and removable by URL')
  const eightEmoji = '👍'.repeat(8)
  t.equal((await react(app, ava, message.id, { emoji: eightEmoji })).statusCode, 201, '32 bytes are accepted')
  t.equal((await unreact(app, ava, message.id, eightEmoji)).statusCode, 200, '…and removable by URL')
})

t.test('an emoji typed two ways is one reaction (NFC)', async (t) => {
  const { app, ava, mike, groupId } = await setup(t)
  const message = await send(t, app, mike, groupId, 'café')
  const composed = '\u00e9'
  const decomposed = 'e\u0301'
  t.equal((await react(app, ava, message.id, { emoji: composed })).statusCode, 201)
  const again = await react(app, ava, message.id, { emoji: decomposed })
  t.equal(again.statusCode, 200)
  t.match(again.json(), { emoji: composed, action: 'unchanged', counts: [{ emoji: composed, count: 1 }] })
  t.equal((await unreact(app, ava, message.id, decomposed)).statusCode, 200, 'removed under the other spelling')
  t.notOk('reactions' in ((await history(t, app, ava, groupId))[0] ?? {}))
})

t.test('direct messages: only the two participants see, edit, delete and react', async (t) => {
  const { app, db, stores } = await buildWithDb(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const zoe = await register(app, 'zoe')
  const avaSocket = await Client.connect(t, port, ava.token)
  const mikeSocket = await Client.connect(t, port, mike.token)
  const zoeSocket = await Client.connect(t, port, zoe.token)
  // zoe shares a group with both, which must not make their direct messages visible to her.
  await createGroup(app, zoe, [ava, mike])
  const fromAva = await sendDirect(db, ava, mike, 'hi mike')
  const fromMike = await sendDirect(db, mike, ava, 'hi ava')
  const beforeAva = await readDirect(stores, fromAva)
  const beforeMike = await readDirect(stores, fromMike)

  refused(t, await edit(app, zoe, fromAva, { content: 'x' }), 404, 'MESSAGE_NOT_FOUND', 'a third user edits')
  refused(t, await remove(app, zoe, fromAva), 404, 'MESSAGE_NOT_FOUND', 'a third user deletes')
  refused(t, await react(app, zoe, fromAva, { emoji: '👀' }), 404, 'MESSAGE_NOT_FOUND', 'a third user reacts')
  refused(t, await unreact(app, zoe, fromAva, '👀'), 404, 'MESSAGE_NOT_FOUND', 'a third user unreacts')
  refused(t, await edit(app, mike, fromAva, { content: 'x' }), 403, 'NOT_MESSAGE_AUTHOR', 'the recipient edits')
  refused(t, await remove(app, mike, fromAva), 403, 'NOT_MESSAGE_AUTHOR', 'the recipient deletes')
  t.same(await readDirect(stores, fromAva), beforeAva, 'unchanged by the refusals')
  t.same(await readDirect(stores, fromMike), beforeMike, 'the other message too')

  const edited = await edit(app, ava, fromAva, { content: 'hi mike!' })
  t.equal(edited.statusCode, 200)
  t.match(edited.json(), { id: fromAva, recipient_id: mike.id, sender_id: ava.id, content: 'hi mike!' })
  t.notOk('group_id' in edited.json(), 'no group_id on a direct message')
  for (const client of [avaSocket, mikeSocket]) {
    const frame = await client.waitFor((f) => f.type === 'message_updated')
    t.same(withoutType(frame), edited.json())
  }

  const reacted = await react(app, mike, fromAva, { emoji: '❤️' })
  t.equal(reacted.statusCode, 201, 'the recipient reacts')
  for (const client of [avaSocket, mikeSocket]) {
    t.match(await client.waitFor((f) => f.type === 'reaction'), {
      message_id: fromAva,
      user_id: mike.id,
      action: 'added',
    })
  }
  t.same((await readDirect(stores, fromAva))?.reactions, [{ emoji: '❤️', count: 1 }])

  const deleted = await remove(app, mike, fromMike)
  t.equal(deleted.statusCode, 200, 'the sender deletes their own')
  const expected = { type: 'message_deleted', id: fromMike, recipient_id: ava.id, sender_id: mike.id }
  for (const client of [avaSocket, mikeSocket]) {
    const frame = await client.waitFor((f) => f.type === 'message_deleted')
    t.same(frame, expected)
    t.ok(Value.Check(MessageDeletedOut, frame))
  }
  t.match(await readDirect(stores, fromMike), { id: fromMike, content: '', deleted: true })
  t.equal((await readDirect(stores, fromAva))?.content, 'hi mike!', 'deleting one leaves the other')

  await settle()
  t.same(actionFrames(zoeSocket), [], 'the third user received nothing')
})

t.test('a member removed from the group can no longer touch its messages', async (t) => {
  const { app, db, ava, mike, groupId } = await setup(t)
  const mikes = await send(t, app, mike, groupId, 'before I left')
  t.equal((await react(app, mike, mikes.id, { emoji: '👋' })).statusCode, 201)
  await db.deleteFrom('group_members').where('group_id', '=', groupId).where('user_id', '=', mike.id).execute()
  const before = await history(t, app, ava, groupId)

  refused(t, await edit(app, mike, mikes.id, { content: 'x' }), 404, 'MESSAGE_NOT_FOUND', 'edit after leaving')
  refused(t, await remove(app, mike, mikes.id), 404, 'MESSAGE_NOT_FOUND', 'delete after leaving')
  refused(t, await react(app, mike, mikes.id, { emoji: '🙃' }), 404, 'MESSAGE_NOT_FOUND', 'react after leaving')
  refused(t, await unreact(app, mike, mikes.id, '👋'), 404, 'MESSAGE_NOT_FOUND', 'unreact after leaving')
  t.same(await history(t, app, ava, groupId), before, 'nothing changed')
})

t.test('the routes are in the OpenAPI document', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  const paths = res.json<{ paths: Record<string, Record<string, unknown>> }>().paths
  t.ok(paths['/v1/messages/{messageID}']?.patch, 'PATCH /v1/messages/{messageID}')
  t.ok(paths['/v1/messages/{messageID}']?.delete, 'DELETE /v1/messages/{messageID}')
  t.ok(paths['/v1/messages/{messageID}/reactions']?.post, 'POST …/reactions')
  t.ok(paths['/v1/messages/{messageID}/reactions/{emoji}']?.delete, 'DELETE …/reactions/{emoji}')
})
