import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, Client, createGroup, listen, register, type Account, type Frame } from '../helpers.js'

// A resume replays up to the resume limit: one at a time per socket, charged by what it replays.

async function fill(app: FastifyInstance, sender: Account, groupId: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: sender.auth,
      payload: { content: `backlog ${i}` },
    })
    if (res.statusCode !== 201) throw new Error(`post failed: ${res.statusCode} ${res.body}`)
  }
}

const answerTo = (client: Client, ref: string) => client.waitFor((f: Frame) => f.ref === ref, 10_000)

t.test('a second resume while one runs on the socket is refused with RESUME_IN_PROGRESS', async (t) => {
  const app = await build(t, { rateLimits: false })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  await fill(app, ava, groupId, 300)

  const socket = await Client.connect(t, port, ava.token)
  socket.send({ type: 'resume', since: 0, ref: 'first' })
  socket.send({ type: 'resume', since: 0, ref: 'second' })
  t.match(await answerTo(socket, 'second'), { type: 'error', code: 'RESUME_IN_PROGRESS' }, 'the second is refused')
  t.match(await answerTo(socket, 'first'), { type: 'ack', replayed: 300 }, 'the first replays everything')
  const again = await socket.request({ type: 'resume', since: 299 })
  t.match(again, { type: 'ack', replayed: 1 }, 'once it is done, another resume is accepted')
})

t.test('resume frames are charged by what they replay: many are refused with RATE_LIMITED', async (t) => {
  // 100 missed messages cost 1 + 100/10 = 11 frames of a 200-frame burst, refilled at 1 frame a second.
  const app = await build(t, { rateLimits: false, maxFramesPerSecond: 1, frameBurst: 200 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  await fill(app, ava, groupId, 100)

  const socket = await Client.connect(t, port, ava.token)
  let acked = 0
  let replayed = 0
  let refusal: Frame | undefined
  for (let i = 0; i < 40; i++) {
    const answer = await socket.request({ type: 'resume', since: 0 })
    if (answer.type === 'ack') {
      acked += 1
      replayed += answer.replayed as number
    } else {
      refusal ??= answer
    }
  }
  t.ok(refusal, 'some resume frames are refused')
  t.match(refusal, { type: 'error', code: 'RATE_LIMITED' })
  t.ok(typeof refusal?.retry_after_ms === 'number' && refusal.retry_after_ms > 0, 'with retry_after_ms')
  t.ok(acked <= 20, `at most the burst's worth of replays were served (${acked} of 40, ${replayed} messages)`)
  t.ok(acked >= 15, `and about that many (${acked})`)
  t.match(
    await socket.request({ type: 'ping' }),
    { type: 'error', code: 'RATE_LIMITED' },
    'the replays used the socket’s frame budget for other frames too',
  )
})

t.test('WS_RESUME_MESSAGES_PER_FRAME=0 charges a resume one frame, as before', async (t) => {
  const app = await build(t, { rateLimits: false, maxFramesPerSecond: 1, frameBurst: 200, resumeMessagesPerFrame: 0 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const groupId = await createGroup(app, ava)
  await fill(app, ava, groupId, 100)
  const socket = await Client.connect(t, port, ava.token)
  for (let i = 0; i < 40; i++) {
    const answer = await socket.request({ type: 'resume', since: 0 })
    if (answer.type !== 'ack') t.fail(`resume ${i}: ${JSON.stringify(answer)}`)
  }
  t.pass('40 resumes, each one frame of the burst')
})
