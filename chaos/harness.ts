import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  Ledger,
  MessageFactory,
  postMessage,
  restSender,
  socketSender,
  type ChaosUser,
  type PostResult,
  type Sent,
  type SenderContext,
  type StoredMessage,
} from './senders.js'
import { killHard, startServer, stopGracefully, type RunningServer, type ServerCommand } from './server-process.js'

export interface ChaosOptions {
  /** How many times the server is killed with SIGKILL (each kill is one round). */
  kills: number
  /**
   * How to start the real server; it gets PORT, HOST, DB_FILE, NODE_ENV, JWT_SECRET, DEMO_DATA, LOG_LEVEL, and
   * RATE_LIMIT_SEND=off and WS_MAX_FRAMES_PER_SECOND=0 unless those are set in this process's environment.
   */
  server: ServerCommand
  /** A folder for the database file (reused across rounds) and the server's log. */
  workDir: string
  /** Users in the one group (default 4); each sends over REST and over a socket. */
  users?: number
  /** Concurrent REST send loops per user (default 2). */
  restSendersPerUser?: number
  /** Sockets per user (default 1). */
  socketsPerUser?: number
  /**
   * `group_message` frames in flight per socket (default 16): a deep queue keeps the server busy, so the
   * kill finds it mid-work even when the harness itself is slow to be scheduled.
   */
  socketWindow?: number
  /** The kill comes this long after the senders start, picked at random in the range (default 200–1500 ms). */
  killAfterMs?: { min: number; max: number }
  /** Seeds the kill moments and message sizes (default: random; printed in the summary). */
  seed?: number
  /** The server's LOG_LEVEL (default `info`: its start line, which names the port, is logged at info). */
  logLevel?: string
  /** Called with one line per round. */
  progress?: (line: string) => void
}

/** The result of a run: the figures and, when anything went wrong, what. */
interface ChaosSummary {
  rounds: number
  /** Messages the server acknowledged (201 or `ack`), including unacknowledged sends acknowledged on retry. */
  acknowledged: number
  acknowledged_rest: number
  acknowledged_socket: number
  acknowledged_on_retry: number
  /** Acknowledged messages missing from history after a restart. */
  lost: number
  /** client_msg_ids stored more than once, or ids served twice by history paging. */
  duplicated: number
  /** Acknowledged ids whose stored message has another content, sender or client_msg_id. */
  mismatched: number
  /** Sends in flight at a kill (no answer, not refused): they may or may not have been stored. */
  unacknowledged: number
  /** Of those, how many were stored anyway (allowed: the commit came before the answer could be sent). */
  stored_unacknowledged: number
  /** Rounds whose kill left sends without an answer, i.e. interrupted the server with work in hand. */
  rounds_interrupted: number
  /** Re-sends after a restart whose answer broke idempotency (not the original id, or not replayed). */
  retry_mismatches: number
  /**
   * Messages in history that the harness never sent, refused sends that were stored anyway, and
   * acknowledgements that did not match the send.
   */
  unexpected: number
  /** Answers that were neither an acknowledgement nor a dead connection, by code (e.g. 429s). */
  refused: Record<string, number>
  /** Messages in the group's history at the end. */
  stored: number
  seed: number
  wall_ms: number
  ok: boolean
}

export interface ChaosResult {
  summary: ChaosSummary
  /** The first few problems found, in words. */
  problems: string[]
}

/** A small seeded generator (mulberry32), so a run's kill moments can be replayed with its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

interface Setup {
  users: ChaosUser[]
  groupId: number
  /** History is read forwards from this message, the first one in the group. */
  anchorId: number
}

async function call<T>(baseUrl: string, method: string, path: string, body: unknown, token?: string): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    if (res.status === 429 && attempt < 20) {
      await sleep(Math.min(Number(res.headers.get('retry-after')) * 1000 || 100, 5_000))
      continue
    }
    const text = await res.text()
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`)
    return JSON.parse(text) as T
  }
}

/** Registers the users (argon2 is slow: once per run), makes the group and stores the anchor message. */
async function setUp(baseUrl: string, userCount: number): Promise<Setup> {
  const tag = randomBytes(4).toString('hex')
  const users: ChaosUser[] = []
  for (let i = 0; i < userCount; i += 1) {
    const username = `chaos_${tag}_${i}`
    const registered = await call<{ token: string; user: { id: number } }>(baseUrl, 'POST', '/v1/users/register', {
      username,
      email: `${username}@example.com`,
      password: `chaos password ${tag}`,
    })
    users.push({ id: registered.user.id, token: registered.token })
  }
  const [owner, ...members] = users
  if (!owner) throw new Error('at least one user is needed')
  const group = await call<{ id: number }>(baseUrl, 'POST', '/v1/groups', { name: 'chaos' }, owner.token)
  for (const member of members) {
    await call(baseUrl, 'POST', `/v1/groups/${group.id}/members`, { user_id: member.id }, owner.token)
  }
  const anchor = await call<StoredMessage>(
    baseUrl,
    'POST',
    `/v1/messages/group/${group.id}`,
    { content: 'chaos: the test messages follow this one' },
    owner.token,
  )
  return { users, groupId: group.id, anchorId: anchor.id }
}

interface HistoryPage {
  messages: StoredMessage[]
  has_more: boolean
  next_after_id: number | null
}

/** The whole group history after the anchor, paged forwards with `after_id` as a client would. */
async function readHistory(baseUrl: string, setup: Setup): Promise<StoredMessage[]> {
  const reader = setup.users[0]
  if (!reader) throw new Error('no users')
  const messages: StoredMessage[] = []
  let afterId: number | null = setup.anchorId
  while (afterId !== null) {
    const page: HistoryPage = await call<HistoryPage>(
      baseUrl,
      'GET',
      `/v1/groups/${setup.groupId}/messages?after_id=${afterId}&limit=100`,
      undefined,
      reader.token,
    )
    messages.push(...page.messages)
    if (page.has_more && page.next_after_id === null) throw new Error('has_more without next_after_id')
    afterId = page.has_more ? page.next_after_id : null
  }
  return messages
}

/** What a history read showed, keyed for the checks. */
interface Snapshot {
  byId: Map<number, StoredMessage>
  byClientMsgId: Map<string, StoredMessage[]>
  total: number
}

class Findings {
  readonly lost = new Set<string>()
  readonly duplicated = new Set<string>()
  readonly mismatched = new Set<string>()
  readonly unexpected = new Set<string>()
  readonly retryMismatches = new Set<string>()
  readonly problems: string[] = []

  note(set: Set<string>, key: string, problem: string): void {
    if (set.has(key)) return
    set.add(key)
    if (this.problems.length < 20) this.problems.push(problem)
  }
}

/** Checks every acknowledged message so far: present once, under its id, with what was sent. */
function check(messages: StoredMessage[], ledger: Ledger, findings: Findings, when: string): Snapshot {
  const byId = new Map<number, StoredMessage>()
  const byClientMsgId = new Map<string, StoredMessage[]>()
  for (const message of messages) {
    if (byId.has(message.id)) {
      findings.note(findings.duplicated, `id ${message.id}`, `${when}: history served message ${message.id} twice`)
    }
    byId.set(message.id, message)
    const key = message.client_msg_id
    if (key === null || !ledger.sent.has(key)) {
      findings.note(findings.unexpected, `id ${message.id}`, `${when}: message ${message.id} was never sent`)
      continue
    }
    const copies = byClientMsgId.get(key)
    if (copies) copies.push(message)
    else byClientMsgId.set(key, [message])
  }
  for (const [key, copies] of byClientMsgId) {
    if (copies.length > 1) {
      const ids = copies.map((copy) => copy.id).join(', ')
      findings.note(findings.duplicated, key, `${when}: ${key} is stored ${copies.length} times (ids ${ids})`)
    }
  }
  for (const sent of ledger.sent.values()) {
    if (sent.refused !== undefined && byClientMsgId.has(sent.clientMsgId)) {
      findings.note(
        findings.unexpected,
        sent.clientMsgId,
        `${when}: ${sent.clientMsgId} was refused (${sent.refused}) yet stored`,
      )
    }
    if (sent.ackedId === undefined) continue
    const stored = byId.get(sent.ackedId)
    if (!stored) {
      findings.note(
        findings.lost,
        sent.clientMsgId,
        `${when}: acknowledged message ${sent.ackedId} (${sent.clientMsgId}, ${sent.channel}) is missing`,
      )
    } else if (
      stored.client_msg_id !== sent.clientMsgId ||
      stored.content !== sent.content ||
      stored.sender_id !== sent.sender.id
    ) {
      findings.note(
        findings.mismatched,
        sent.clientMsgId,
        `${when}: message ${sent.ackedId} is not what was acknowledged for ${sent.clientMsgId}`,
      )
    }
  }
  return { byId, byClientMsgId, total: messages.length }
}

async function resend(baseUrl: string, groupId: number, sent: Sent): Promise<PostResult> {
  for (let attempt = 0; ; attempt += 1) {
    const result = await postMessage(baseUrl, groupId, sent)
    if (result.status !== 429 || attempt >= 20) return result
    await sleep(result.retryAfterMs)
  }
}

/**
 * After a restart, sends again what was in flight at the kill, and a few acknowledged messages, with
 * the same client_msg_id: a stored one must come back as the original (replayed), an unstored one is
 * stored now and counts as acknowledged from here on.
 */
async function retryAfterRestart(
  baseUrl: string,
  setup: Setup,
  inFlight: Sent[],
  acknowledged: Sent[],
  snapshot: Snapshot,
  findings: Findings,
  random: () => number,
): Promise<number> {
  let stored = 0
  const sample = acknowledged.filter(() => random() < 5 / Math.max(acknowledged.length, 1))
  const queue = [...inFlight, ...sample]
  const retryOne = async (sent: Sent): Promise<void> => {
    const original = snapshot.byClientMsgId.get(sent.clientMsgId)?.[0]
    if (original && sent.ackedId === undefined) stored += 1
    const result = await resend(baseUrl, setup.groupId, sent)
    const message = result.body as StoredMessage
    const where = `retry of ${sent.clientMsgId}`
    if (result.status !== 201) {
      findings.note(findings.retryMismatches, sent.clientMsgId, `${where}: ${result.status} ${JSON.stringify(message)}`)
      return
    }
    if (original && (!result.replayed || message.id !== original.id)) {
      findings.note(
        findings.retryMismatches,
        sent.clientMsgId,
        `${where}: stored as ${original.id}, the retry answered ${message.id} (replayed: ${result.replayed})`,
      )
    } else if (!original && result.replayed) {
      findings.note(findings.retryMismatches, sent.clientMsgId, `${where}: not in history, yet replayed`)
    }
    if (sent.ackedId === undefined) {
      sent.ackedId = message.id
      sent.channel = 'retry'
    }
  }
  // A few at a time: each client_msg_id is re-sent once, so their order does not matter.
  const workers = Array.from({ length: 8 }, async () => {
    for (let sent = queue.shift(); sent; sent = queue.shift()) await retryOne(sent)
  })
  await Promise.all(workers)
  return stored
}

/**
 * Runs the durability chaos: start the real server, send from REST and socket clients as fast as it
 * answers while recording every acknowledgement, kill -9 it at a random moment, restart it on the
 * same file and check through the API that every acknowledged message is there exactly once.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = performance.now()
  const seed = options.seed ?? randomBytes(4).readUInt32LE()
  const random = seededRandom(seed)
  const userCount = options.users ?? 4
  const restPerUser = options.restSendersPerUser ?? 2
  const socketsPerUser = options.socketsPerUser ?? 1
  const socketWindow = options.socketWindow ?? 16
  const killAfter = options.killAfterMs ?? { min: 200, max: 1500 }
  const progress = options.progress ?? (() => {})
  const logFile = join(options.workDir, 'server.log')
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    DB_FILE: join(options.workDir, 'chaos.db'),
    NODE_ENV: 'production',
    // Fixed for the run, so tokens issued in the first round stay valid after every restart.
    JWT_SECRET: randomBytes(48).toString('base64url'),
    DEMO_DATA: 'false',
    LOG_LEVEL: options.logLevel ?? 'info',
    // The send rate limits would only turn the flood into 429s and `error` frames; set these variables
    // to keep them in play.
    RATE_LIMIT_SEND: process.env.RATE_LIMIT_SEND ?? 'off',
    WS_MAX_FRAMES_PER_SECOND: process.env.WS_MAX_FRAMES_PER_SECOND ?? '0',
  }

  const ledger = new Ledger()
  const findings = new Findings()
  let unacknowledged = 0
  let storedUnacknowledged = 0
  let roundsInterrupted = 0
  let stored: number
  let server: RunningServer = await startServer(options.server, env, logFile)
  try {
    const setup = await setUp(server.baseUrl, userCount)
    for (let round = 1; round <= options.kills; round += 1) {
      let stopped = false
      const context: SenderContext = {
        baseUrl: server.baseUrl,
        groupId: setup.groupId,
        ledger,
        stopped: () => stopped,
        sockets: new Set(),
      }
      const senders: Promise<void>[] = []
      setup.users.forEach((user, index) => {
        for (let i = 0; i < restPerUser; i += 1) {
          senders.push(restSender(context, user, new MessageFactory(round, `u${index}-rest${i}`, random)))
        }
        for (let i = 0; i < socketsPerUser; i += 1) {
          const factory = new MessageFactory(round, `u${index}-ws${i}`, random)
          senders.push(socketSender(context, user, factory, socketWindow))
        }
      })
      const killAtMs = Math.round(killAfter.min + random() * (killAfter.max - killAfter.min))
      await sleep(killAtMs)
      const exited = killHard(server)
      stopped = true
      const how = await exited
      // A dead server ends every sender; any socket still open after 10 s is cut off.
      const sendersDone = Promise.all(senders)
      const giveUp = new AbortController()
      const timedOut = sleep(10_000, true, { signal: giveUp.signal }).catch(() => false)
      if (await Promise.race([sendersDone.then(() => false), timedOut])) {
        for (const socket of context.sockets) socket.terminate()
        await sendersDone
      }
      giveUp.abort()

      server = await startServer(options.server, env, logFile)
      const when = `after kill ${round}`
      const snapshot = check(await readHistory(server.baseUrl, setup), ledger, findings, when)
      const thisRound = [...ledger.sent.values()].filter((sent) => sent.round === round)
      const acknowledged = thisRound.filter((sent) => sent.ackedId !== undefined)
      // Sent without an answer (the kill came first); a refused send had its answer.
      const inFlight = thisRound.filter((sent) => sent.ackedId === undefined && sent.refused === undefined)
      const rest = acknowledged.filter((sent) => sent.channel === 'rest').length
      const inFlightStored = await retryAfterRestart(
        server.baseUrl,
        setup,
        inFlight,
        acknowledged,
        snapshot,
        findings,
        random,
      )
      unacknowledged += inFlight.length
      if (inFlight.length > 0) roundsInterrupted += 1
      storedUnacknowledged += inFlightStored
      stored = snapshot.total
      progress(
        `round ${round}/${options.kills}: ${how} after ${killAtMs} ms; ${acknowledged.length} acknowledged ` +
          `(${rest} REST, ${acknowledged.length - rest} socket), ${inFlight.length} in flight ` +
          `(${inFlightStored} stored); history ${snapshot.total} messages; so far ${findings.lost.size} lost, ` +
          `${findings.duplicated.size} duplicated`,
      )
    }
    // The re-sends after the last restart are acknowledged too: check them once more.
    stored = check(await readHistory(server.baseUrl, setup), ledger, findings, 'at the end').total
    await stopGracefully(server)
  } catch (error) {
    await killHard(server)
    throw error
  }

  for (const badAck of ledger.badAcks) findings.note(findings.unexpected, badAck, badAck)
  const all = [...ledger.sent.values()]
  const count = (channel: Sent['channel']) =>
    all.filter((sent) => sent.ackedId !== undefined && sent.channel === channel).length
  const summary: ChaosSummary = {
    rounds: options.kills,
    acknowledged: all.filter((sent) => sent.ackedId !== undefined).length,
    acknowledged_rest: count('rest'),
    acknowledged_socket: count('socket'),
    acknowledged_on_retry: count('retry'),
    lost: findings.lost.size,
    duplicated: findings.duplicated.size,
    mismatched: findings.mismatched.size,
    unacknowledged,
    stored_unacknowledged: storedUnacknowledged,
    rounds_interrupted: roundsInterrupted,
    retry_mismatches: findings.retryMismatches.size,
    unexpected: findings.unexpected.size,
    refused: Object.fromEntries(ledger.refused),
    stored,
    seed,
    wall_ms: Math.round(performance.now() - started),
    ok: false,
  }
  summary.ok =
    summary.acknowledged > 0 &&
    summary.lost === 0 &&
    summary.duplicated === 0 &&
    summary.mismatched === 0 &&
    summary.retry_mismatches === 0 &&
    summary.unexpected === 0
  return { summary, problems: findings.problems }
}
