import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import promClient from 'prom-client'
import t from 'tap'
import { chatServer } from '../../src/plugin.js'
import type { ErrorBody } from '../../src/schemas/common.js'
import { build, Client, createGroup, listen, register, settle, tempDir, TEST_SECRET } from '../helpers.js'

/** The samples of a Prometheus text page: `name{labels}` (labels as printed) to value. */
function samplesOf(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (match?.[1] && match[2]) samples.set(match[1], Number(match[2]))
  }
  return samples
}

async function scrape(app: FastifyInstance, url = '/metrics'): Promise<Map<string, number>> {
  const res = await app.inject({ method: 'GET', url })
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`)
  return samplesOf(res.body)
}

t.test('the metrics count sockets, stored messages, deliveries, fan-outs, rejected frames and requests', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const mike = await register(app, 'mike')
  const groupId = await createGroup(app, ava, [mike])

  const page = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'the Prometheus text format')
  const before = samplesOf(page.body)
  t.equal(before.get('chatserver_sockets_open'), 0, 'no socket open yet')
  t.equal(before.get('chatserver_messages_stored_total{conversation="group"}'), 0, 'group messages start at 0')
  t.equal(before.get('chatserver_messages_stored_total{conversation="direct"}'), 0, 'direct messages start at 0')

  const mikeOnPhone = await Client.connect(t, port, mike.token)
  const mikeOnLaptop = await Client.connect(t, port, mike.token)
  const avaSocket = await Client.connect(t, port, ava.token)
  t.equal((await scrape(app)).get('chatserver_sockets_open'), 3, 'three sockets open')

  await settle(100) // the presence frames of the sockets that just opened go out first
  const deliveredBefore = (await scrape(app)).get('chatserver_frames_delivered_total') ?? Number.NaN
  const send = () =>
    app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: ava.auth,
      payload: { content: 'counted once', client_msg_id: 'once' },
    })
  t.equal((await send()).statusCode, 201)
  await Promise.all(
    [mikeOnPhone, mikeOnLaptop, avaSocket].map((client) => client.waitFor((f) => f.type === 'group_message')),
  )
  const replay = await send()
  t.equal(replay.headers['idempotent-replayed'], 'true', 'a retried send returns the original')
  const direct = await app.inject({
    method: 'POST',
    url: `/v1/messages/p2p/${mike.id}`,
    headers: ava.auth,
    payload: { content: 'just you' },
  })
  t.equal(direct.statusCode, 201)
  await mikeOnPhone.waitFor((f) => f.type === 'direct_message')
  const overSocket = await avaSocket.request({ type: 'group_message', group_id: groupId, content: 'from the socket' })
  t.equal(overSocket.type, 'ack')

  t.equal((await avaSocket.request({ type: 'nope' })).code, 'UNKNOWN_FRAME')
  t.equal((await avaSocket.request({ type: 'group_message', group_id: 'x', content: 1 })).code, 'VALIDATION_ERROR')
  t.equal((await avaSocket.request({ type: 'group_message', group_id: 999_999, content: 'x' })).code, 'GROUP_NOT_FOUND')
  avaSocket.send('{not json')
  await avaSocket.waitFor((f) => f.type === 'error' && f.code === 'INVALID_JSON')

  const after = await scrape(app)
  t.equal(after.get('chatserver_messages_stored_total{conversation="group"}'), 2, 'two group messages stored')
  t.equal(after.get('chatserver_messages_stored_total{conversation="direct"}'), 1, 'one direct message stored')
  // Each of the three messages reached all three sockets: the group ones every member's (the sender's too),
  // the direct one Mike's two and Ava's, its sender's. The retried send and the acks are not fan-out.
  t.equal(
    (after.get('chatserver_frames_delivered_total') ?? 0) - deliveredBefore,
    3 * 3,
    'each message counted once per socket it reached',
  )
  t.ok((after.get('chatserver_fanout_duration_seconds_count') ?? 0) >= 3, 'each publish is timed')
  t.ok(
    (after.get('chatserver_fanout_duration_seconds_sum') ?? 0) > 0 &&
      (after.get('chatserver_fanout_duration_seconds_sum') ?? 1) < 1,
    'in seconds',
  )
  for (const code of ['UNKNOWN_FRAME', 'VALIDATION_ERROR', 'GROUP_NOT_FOUND', 'INVALID_JSON']) {
    t.equal(after.get(`chatserver_ws_frames_rejected_total{code="${code}"}`), 1, `one frame rejected with ${code}`)
  }
  t.equal(
    after.get(
      'chatserver_http_request_duration_seconds_count{method="POST",route="/v1/messages/group/:groupID",status_code="201"}',
    ),
    2,
    'HTTP durations by method, route (its pattern, not the URL) and status',
  )

  const closed = new Promise((resolve) => avaSocket.socket.once('close', resolve))
  avaSocket.socket.close()
  await closed
  await settle(50)
  t.equal((await scrape(app)).get('chatserver_sockets_open'), 2, 'a closed socket is no longer counted')
})

t.test('frames refused by the rate limit are counted', async (t) => {
  const app = await build(t, { maxFramesPerSecond: 0.5, frameBurst: 2 })
  const port = await listen(app)
  const ava = await register(app, 'ava')
  const socket = await Client.connect(t, port, ava.token)
  for (let i = 0; i < 4; i += 1) socket.send({ type: 'ping', ref: i })
  await socket.waitFor((f) => f.type === 'error' && f.ref === 3)
  t.equal((await scrape(app)).get('chatserver_ws_frames_rejected_total{code="RATE_LIMITED"}'), 2, 'two over the limit')
})

t.test('metrics can be turned off with METRICS=false or the metrics option', async (t) => {
  for (const [how, options] of [
    ['metrics: false', { metrics: false }],
    ['METRICS=false', { env: { METRICS: 'false' } }],
  ] as const) {
    const app = await build(t, options)
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    t.equal(res.statusCode, 404, `${how}: no /metrics`)
    t.equal(res.json<ErrorBody>().code, 'ROUTE_NOT_FOUND')
    const doc = await app.inject({ method: 'GET', url: '/docs/json' })
    t.notOk('/metrics' in doc.json<{ paths: Record<string, unknown> }>().paths, `${how}: not in the document`)
    // Everything else still works without them.
    const ava = await register(app, 'ava')
    const groupId = await createGroup(app, ava)
    const posted = await app.inject({
      method: 'POST',
      url: `/v1/messages/group/${groupId}`,
      headers: ava.auth,
      payload: { content: 'unmeasured' },
    })
    t.equal(posted.statusCode, 201, `${how}: messages are still sent`)
  }
  const optionWins = await build(t, { metrics: true, env: { METRICS: 'false' } })
  t.equal((await optionWins.inject({ method: 'GET', url: '/metrics' })).statusCode, 200, 'the option wins over METRICS')
  await t.rejects(build(t, { env: { METRICS: 'sometimes' } }), /METRICS/, 'a bad METRICS stops the start, naming it')
})

t.test("embedded, the metrics are under the prefix and apart from the host's default registry", async (t) => {
  promClient.register.clear()
  t.teardown(() => promClient.register.clear())
  const hostRequests = new promClient.Counter({ name: 'host_requests_total', help: 'The host’s own counter.' })
  const host = Fastify()
  host.get('/metrics', async (_request, reply) =>
    reply.type(promClient.register.contentType).send(await promClient.register.metrics()),
  )
  host.get('/work', async () => {
    hostRequests.inc()
    return { done: true }
  })
  const common = { env: {}, jwtSecret: TEST_SECRET, demoData: false }
  // Two chat servers in one host: each has its own registry, so the same metric names never collide.
  await host.register(chatServer, { prefix: '/chat', dbFile: join(tempDir(t), 'a.db'), ...common })
  await host.register(chatServer, { prefix: '/other', dbFile: join(tempDir(t), 'b.db'), ...common })
  t.teardown(() => host.close())
  await host.ready()
  await host.inject({ method: 'GET', url: '/work' })
  const registered = await host.inject({
    method: 'POST',
    url: '/chat/v1/users/register',
    payload: { username: 'ava', email: 'ava@example.com', password: 'correct horse battery' },
  })
  t.equal(registered.statusCode, 201)

  const chat = await scrape(host, '/chat/metrics')
  t.equal(
    chat.get(
      'chatserver_http_request_duration_seconds_count{method="POST",route="/chat/v1/users/register",status_code="201"}',
    ),
    1,
    'the chat metrics are served under the prefix, with the routes as the host serves them',
  )
  t.notOk(
    [...chat.keys()].some((name) => name.startsWith('host_')),
    "and hold nothing of the host's",
  )
  const other = await scrape(host, '/other/metrics')
  t.notOk(
    [...other.keys()].some((name) => name.includes('/chat/')),
    "the second chat server's metrics are its own",
  )
  const hostPage = await scrape(host, '/metrics')
  t.equal(hostPage.get('host_requests_total'), 1, "the host's default registry serves the host's metrics")
  t.notOk(
    [...hostPage.keys()].some((name) => name.startsWith('chatserver_')),
    'and none of the chat server’s',
  )
})
