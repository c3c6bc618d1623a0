// Property-based test over every client socket frame type: thousands of generated frames (valid and broken
// objects of each registered type, unknown types, non-objects, invalid JSON, binary, huge strings) on one
// real socket. Each frame gets exactly one well-formed answer (an `error` for every invalid frame), never an
// INTERNAL_ERROR; the socket stays open (a ping after every frame gets its pong); the seeded data reads
// back unchanged afterwards. Replay a run with FC_SEED=<the seed it printed>.
import fc, { type Arbitrary } from 'fast-check'
import t from 'tap'
import WebSocket from 'ws'
import { build, Client, listen, type Frame } from '../helpers.js'
import {
  anyJson,
  anyString,
  assertErrorBody,
  assertIntact,
  badTokens,
  countsOf,
  describeFailure,
  fromPool,
  fuzzAppOptions,
  noChangesYet,
  objectCase,
  replaySeed,
  runSettings,
  SCALE,
  seedWorld,
  serverContext,
  snapshot,
  trackMessage,
  UPPER_SNAKE,
  watchForCrashes,
  type JsonSchema,
  type Pools,
} from './support.js'

/** Generated upgrade requests to `/ws` with odd tokens and `since` values. */
const UPGRADE_CASES = Math.round(300 * SCALE)
/** Generated frames in total: per registered type, plus a quarter of them garbage of no type at all. */
const FRAME_CASES = Math.round(3000 * SCALE)
const MIN_PER_TYPE = 150
/** Strings in frames stay under the 64 KiB frame limit even when every character is escaped to 6 bytes. */
const HUGE_FRAME_CHARS = 9000
/** Frames the server answers with `ack`, `error` or `pong` (a reply); every other frame is an event. */
const REPLY_TYPES = new Set(['ack', 'error', 'pong'])

type Sent = { text: string } | { binary: Uint8Array }

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
const validRef = (ref: unknown) => (typeof ref === 'string' && ref.length <= 128) || Number.isSafeInteger(ref)

/** Garbage: invalid JSON, JSON that is no object, objects without a registered type, binary frames. */
function garbageFrame(types: string[]): Arbitrary<Sent> {
  const text = (arbitrary: Arbitrary<string>) => arbitrary.map((value): Sent => ({ text: value }))
  const badType = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.constantFrom<unknown>(null, 1, true, [], {}, ...types.map((type) => type.toUpperCase())),
    fc.constantFrom(...types).map((type) => ` ${type}`),
    fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'error', 'ack', 'pong', 'system'),
  )
  const withBadType = fc
    .tuple(badType, fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }))
    .map(([type, rest]) => JSON.stringify({ ...rest, type }))
  return fc.oneof(
    text(fc.string({ maxLength: 60, unit: 'binary' })),
    text(
      fc.constantFrom(
        '',
        ' ',
        '{',
        '{"type":"ping"',
        '{"type":"ping",}',
        "{'type':'ping'}",
        'null',
        '[]',
        '"ping"',
        '1e999',
        '{"type":"ping"}{"type":"ping"}',
        '\uFEFF{"type":"ping"}',
        '{"__proto__":{"type":"ping"}}',
        '{"type":"ping","__proto__":{"admin":true}}',
      ),
    ),
    text(anyJson(HUGE_FRAME_CHARS).map((value) => JSON.stringify(value))),
    text(withBadType),
    text(anyString(HUGE_FRAME_CHARS)),
    fc.uint8Array({ maxLength: 64 }).map((bytes): Sent => ({ binary: bytes })),
  )
}

/** Objects of one registered type, mostly broken: wrong field types, missing and extra fields, odd refs. */
function typedFrame(schema: JsonSchema, pools: Pools): Arbitrary<Sent> {
  return objectCase(schema, pools, HUGE_FRAME_CHARS).map((value): Sent => ({ text: JSON.stringify(value) }))
}

interface UpgradeCase {
  /** `TOKEN` stands for the valid token. */
  token: string | undefined
  since: string | undefined
  extra: Array<[string, string]>
}

/** Query strings for `GET /ws`: valid, forged and odd tokens; `since` ids valid, huge, negative, not numbers. */
function upgradeCase(pools: Pools, fuzzId: number): Arbitrary<UpgradeCase> {
  const since = fc.oneof(
    { weight: 3, arbitrary: fromPool(pools.messageIds).map(String) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '0',
        '-1',
        '1.5',
        '1e21',
        '1e308',
        '9007199254740993',
        '9223372036854775807',
        '9223372036854775808',
        '18446744073709551616',
        'abc',
        '',
        '0x10',
        ' 1',
        'NaN',
        'Infinity',
        '١',
        '1%00',
      ),
    },
    { weight: 1, arbitrary: fc.integer().map(String) },
    { weight: 1, arbitrary: fc.double().map(String) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  )
  return fc.record({
    token: fc.oneof(
      { weight: 5, arbitrary: fc.constant<string | undefined>('TOKEN') },
      { weight: 2, arbitrary: fc.constantFrom<string | undefined>(...badTokens(fuzzId), undefined, '', 'TOKENx') },
      { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    ),
    since: fc.option(since, { nil: undefined }),
    extra: fc.array(
      fc.tuple(fc.oneof(fc.constantFrom('since', 'token'), fc.string({ maxLength: 6 })), fc.string({ maxLength: 10 })),
      { maxLength: 2 },
    ),
  })
}

type UpgradeResult = { status: 101; socket: WebSocket } | { status: number; body: string }

/** Opens `url`: the socket when it upgraded, else the HTTP status and body the server refused it with. */
function tryUpgrade(url: string): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    socket.once('open', () => resolve({ status: 101, socket }))
    socket.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk.toString()))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    socket.once('error', (error) => {
      if (!String(error.message).startsWith('Unexpected server response')) reject(error)
    })
  })
}

t.test(
  'every generated frame gets a well-formed answer, the socket stays open, and seeded data survives',
  async (t) => {
    const app = await build(t, {
      ...fuzzAppOptions,
      // Keep replays short and the per-socket frame limiter in the path but out of reach.
      resumeLimit: 20,
      maxFramesPerSecond: 1_000_000,
      frameBurst: 1_000_000,
    })
    const watch = watchForCrashes(t)
    const { crashes } = watch
    const { realtime, chatConfig } = serverContext(app)
    const port = await listen(app)
    const world = await seedWorld(app)
    const before = await snapshot(app, world)
    const allowed = noChangesYet()
    const client = await Client.connect(t, port, world.fuzz.token)
    let closed: number | undefined
    client.socket.on('close', (code) => (closed = code))

    // The registered frame types, as the server names them when it refuses an unknown one.
    const unknown = await client.request({ type: 'no_such_frame' })
    t.match(unknown, { type: 'error', code: 'UNKNOWN_FRAME' }, 'an unknown frame type is refused')
    const listed = /expected one of: (.*)\.$/.exec(String(unknown.error))?.[1]?.split(', ') ?? []
    for (const type of ['group_message', 'direct_message', 'read', 'typing', 'ping']) {
      t.ok(listed.includes(type), `the frame type ${type} is registered`)
    }
    t.same([...listed].sort(), [...realtime.frames.keys()].sort(), 'the error lists every registered type')
    client.frames.splice(0)

    let probes = 0
    let cases = 0
    const answers = new Map<string, number>()
    const count = (key: string) => answers.set(key, (answers.get(key) ?? 0) + 1)

    /** Sends one frame, then a ping; resolves with every frame received up to that ping's pong. */
    async function exchange(sent: Sent): Promise<Frame[]> {
      if ('binary' in sent) client.socket.send(sent.binary, { binary: true })
      else client.socket.send(sent.text)
      const probe = `\u0001probe-${++probes}`
      client.send({ type: 'ping', ref: probe })
      const isPong = (frame: Frame) => frame.type === 'pong' && frame.ref === probe
      try {
        await client.waitFor(isPong, 10_000)
      } catch {
        throw new Error(`no pong after the frame (socket ${closed === undefined ? 'open' : `closed ${closed}`})`)
      }
      const received = client.frames.splice(0, client.frames.findIndex(isPong) + 1)
      return received.slice(0, -1)
    }

    /** What the server must answer: an error for anything invalid, at most one reply for a valid frame. */
    function check(sent: Sent, received: Frame[], crashesBefore: number): void {
      cases += 1
      const text = 'text' in sent ? sent.text : undefined
      const shown = 'binary' in sent ? `binary ${sent.binary.length} bytes` : sent.text.slice(0, 300)
      const fail = (why: string): never => {
        throw new Error(
          `frame ${shown} (${text?.length ?? 0} chars): ${why}; got ${JSON.stringify(received).slice(0, 600)}`,
        )
      }
      if (closed !== undefined) fail(`the socket closed with ${closed}`)
      if (crashes.length > crashesBefore)
        fail(`the server would have crashed: ${crashes.slice(crashesBefore).join('; ')}`)
      let value: unknown
      let parsed = false
      if (text !== undefined) {
        try {
          value = JSON.parse(text)
          parsed = true
        } catch {
          // not JSON: must be refused
        }
      }
      const object = parsed && isRecord(value) ? value : undefined
      const registered = object && typeof object.type === 'string' ? realtime.frames.get(object.type) : undefined
      const valid = registered !== undefined && registered.check.Check(object)

      for (const frame of received) {
        if (typeof frame.type !== 'string') fail('a frame without a type')
        if (frame.type === 'ack' && isRecord(frame.message)) trackMessage(allowed, world.pools, frame.message)
        if (frame.type === 'group_message' && frame.sender_id === world.fuzz.id)
          trackMessage(allowed, world.pools, frame)
      }
      const replies = received.filter((frame) => REPLY_TYPES.has(frame.type))
      if (replies.length > 1) fail('more than one reply')
      const reply = replies[0]
      const ref = object?.ref
      // A refused frame stores and sends nothing (only a resume replays messages before it answers).
      const messages = received.filter((frame) => frame.type === 'group_message' || frame.type === 'direct_message')
      if (reply?.type === 'error' && object?.type !== 'resume' && messages.length > 0) {
        fail('a refused frame was followed by a message')
      }
      if (!valid) {
        if (!reply || reply.type !== 'error') fail('an invalid frame was not answered with an error')
      } else if (!reply) {
        // A valid frame with nothing to say (typing without a ref) may go unanswered, but not when it has a ref.
        if (validRef(ref)) fail('a valid frame with a ref got no reply')
        count(`${String(object?.type)}:none`)
        return
      }
      if (!reply) return
      if (reply.type === 'error') {
        const keys = Object.keys(reply).sort()
        const expected = reply.ref === undefined ? ['code', 'error', 'type'] : ['code', 'error', 'ref', 'type']
        if (keys.join() !== expected.join()) fail('the error frame does not have exactly type, code, error and ref?')
        if (typeof reply.code !== 'string' || !UPPER_SNAKE.test(reply.code)) fail('the error code is not UPPER_SNAKE')
        if (reply.code === 'INTERNAL_ERROR') fail('the server failed inside (INTERNAL_ERROR)')
        if (typeof reply.error !== 'string' || reply.error.length === 0) fail('the error has no sentence')
        count(`${valid ? 'valid' : 'invalid'}:error:${String(reply.code)}`)
      } else {
        count(`${String(object?.type)}:${reply.type}`)
      }
      if (validRef(ref) && reply.ref !== ref) fail(`the reply does not echo ref ${JSON.stringify(ref)}`)
      if (ref === undefined && 'ref' in reply) fail('the reply carries a ref the frame did not have')
    }

    const run = async (label: string, arbitrary: Arbitrary<Sent>, numRuns: number) => {
      const started = Date.now()
      try {
        await fc.assert(
          fc.asyncProperty(arbitrary, async (sent) => {
            const crashesBefore = crashes.length
            check(sent, await exchange(sent), crashesBefore)
          }),
          runSettings(numRuns, label),
        )
        t.pass(`${label}: ${numRuns} generated frames in ${Date.now() - started} ms`)
      } catch (error) {
        t.fail(`${label}: ${describeFailure(error)}`)
      }
    }

    const perType = Math.max(MIN_PER_TYPE, Math.ceil((FRAME_CASES * 0.75) / listed.length))
    for (const type of listed) {
      const schema = realtime.frames.get(type)?.schema as JsonSchema | undefined
      if (!schema) continue
      await run(`frame ${type}`, typedFrame(schema, world.pools), perType)
    }
    const garbageRuns = Math.ceil(FRAME_CASES / 4)
    await run('frames of no registered type', garbageFrame(listed), garbageRuns)

    // Upgrades with odd tokens and resume points: refused with a well-formed 4xx, or open and answering.
    let upgraded = 0
    const upgradeStatuses = new Map<number, number>()
    const upgrades = fc.asyncProperty(upgradeCase(world.pools, world.fuzz.id), async (generated) => {
      const crashesBefore = crashes.length
      const query = new URLSearchParams()
      if (generated.token !== undefined) query.append('token', generated.token.replaceAll('TOKEN', world.fuzz.token))
      if (generated.since !== undefined) query.append('since', generated.since)
      for (const [key, value] of generated.extra) query.append(key, value)
      const url = `ws://127.0.0.1:${port}/ws?${query.toString()}`
      const shown = `GET /ws?${query.toString().replace(world.fuzz.token, '<valid token>').slice(0, 300)}`
      const result = await tryUpgrade(url)
      upgraded += 1
      upgradeStatuses.set(result.status, (upgradeStatuses.get(result.status) ?? 0) + 1)
      if ('socket' in result) {
        // Open: it must answer a ping (after any resume backlog), then close cleanly.
        const socket = result.socket
        const pong = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 10_000)
          void watch.next().then(() => {
            clearTimeout(timer)
            resolve(false)
          })
          socket.on('message', (data) => {
            const frame = JSON.parse(String(data)) as Frame
            if (frame.type === 'pong' && frame.ref === 'after-upgrade') {
              clearTimeout(timer)
              resolve(true)
            }
          })
        })
        socket.send(JSON.stringify({ type: 'ping', ref: 'after-upgrade' }))
        const answered = await pong
        const gone = new Promise((resolve) => socket.once('close', resolve))
        socket.close()
        await gone
        if (crashes.length > crashesBefore) {
          throw new Error(`${shown}: the server would have crashed: ${crashes.slice(crashesBefore).join('; ')}`)
        }
        if (!answered) throw new Error(`${shown}: upgraded, but the socket never answered a ping`)
      } else {
        if (result.status >= 500) throw new Error(`${shown} answered ${result.status}: ${result.body}`)
        assertErrorBody(result.status, result.body, shown)
      }
      if (crashes.length > crashesBefore) {
        throw new Error(`${shown}: the server would have crashed: ${crashes.slice(crashesBefore).join('; ')}`)
      }
    })
    try {
      const started = Date.now()
      await fc.assert(upgrades, runSettings(UPGRADE_CASES, 'upgrades'))
      t.pass(`${UPGRADE_CASES} generated upgrades in ${Date.now() - started} ms, statuses ${countsOf(upgradeStatuses)}`)
    } catch (error) {
      t.fail(`upgrades: ${describeFailure(error)}`)
    }

    t.same(crashes, [], 'no unhandled rejection or uncaught exception')
    t.equal(closed, undefined, 'the socket is still open')
    const pong = await client.request({ type: 'ping' })
    t.equal(pong.type, 'pong', 'and a ping still gets its pong')

    // A frame over the size limit closes only its own socket (1009); the server and other sockets go on.
    const big = await Client.connect(t, port, world.fuzz.token)
    const bigClosed = new Promise<number>((resolve) => big.socket.once('close', (code) => resolve(code)))
    big.send({ type: 'ping', pad: 'x'.repeat(chatConfig.maxFrameBytes + 1) })
    t.equal(await bigClosed, 1009, 'an oversized frame closes its socket with 1009')
    t.equal((await client.request({ type: 'ping' })).type, 'pong', 'the first socket still answers')
    const fresh = await Client.connect(t, port, world.fuzz.token)
    t.equal((await fresh.request({ type: 'ping' })).type, 'pong', 'a new socket opens and answers')
    t.equal((await app.inject({ method: 'GET', url: '/ping' })).statusCode, 200, 'the server still answers HTTP')

    const { added } = await assertIntact(t, app, world, before, allowed)
    console.log(
      `property/frames: ${cases} generated frames over ${listed.length} frame types (${perType} each) and ` +
        `${garbageRuns} of no type (FC_SEED=${replaySeed()}), each followed by a ping that got its pong; ` +
        `answers ${countsOf(answers)}; ${upgraded} generated upgrades (${countsOf(upgradeStatuses)}); ` +
        `${allowed.posted.size} messages legitimately posted (${added} in the seed group)`,
    )
  },
)

// Inputs the properties above found failing on PostgreSQL (TEST_DATABASE=postgres), kept as fixed cases:
//   FC_SEED=2024473704: frame resume, fast-check seed 1858253871, path "92", counterexample
//     {"type":"resume","ref":"LK'9j","since":1e+21} → error INTERNAL_ERROR (bigint out of range: `since` has
//     no maximum; 9223372036854775807 fails too, as a JS number it rounds past the bigint range);
//   frame group_message, seed -810751531, path "157": {"type":"group_message",…,"client_msg_id":"image\u0000"}
//     → error INTERNAL_ERROR (PostgreSQL refuses a NUL character in text);
//   FC_SEED=1683259134: upgrades, seed -955371044, path "1:2:2": GET /ws?token=<valid>&since=1e308 → upgraded,
//     then an unhandled rejection ("invalid input syntax for type bigint") in the connect work: the socket
//     never answers again, and a server process without a handler for it would exit.
t.test('resume points past the id range and NUL characters neither fail inside nor crash', async (t) => {
  const crashes = watchForCrashes(t)
  const app = await build(t, fuzzAppOptions)
  const port = await listen(app)
  const world = await seedWorld(app)
  const client = await Client.connect(t, port, world.fuzz.token)
  const frames: Array<Record<string, unknown>> = [
    { type: 'resume', since: 1e21 },
    { type: 'resume', since: 2 ** 63 }, // int8's largest (2^63 − 1), which a double rounds to 2^63
    { type: 'resume', since: 1e308 },
    { type: 'group_message', group_id: world.seedGroup, content: '\u0000' },
    { type: 'group_message', group_id: world.seedGroup, content: 'x', client_msg_id: 'image\u0000' },
    { type: 'direct_message', recipient_id: world.ava.id, content: '\u0000' },
  ]
  for (const frame of frames) {
    const answer = await client.request(frame)
    t.not(answer.code, 'INTERNAL_ERROR', `${JSON.stringify(frame)} → ${JSON.stringify(answer).slice(0, 200)}`)
  }
  for (const since of ['1e21', '9223372036854775807', '1e308']) {
    const result = await tryUpgrade(`ws://127.0.0.1:${port}/ws?token=${world.fuzz.token}&since=${since}`)
    if (!('socket' in result)) {
      t.ok(result.status < 500, `since=${since} is refused with ${result.status}`)
      continue
    }
    const socket = result.socket
    const answered = new Promise<boolean>((resolve) => {
      void crashes.next().then(() => resolve(false))
      setTimeout(() => resolve(false), 10_000).unref()
      socket.on('message', (data) => {
        if ((JSON.parse(String(data)) as Frame).type === 'pong') resolve(true)
      })
    })
    socket.send(JSON.stringify({ type: 'ping' }))
    t.ok(await answered, `a socket opened with since=${since} answers a ping`)
    socket.terminate()
  }
  t.same(crashes.crashes, [], 'no unhandled rejection or uncaught exception')
})
