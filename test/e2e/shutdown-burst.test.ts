import { Agent, request } from 'node:http'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { tempDir } from '../helpers.js'
import { startServerProcess } from './server-process.js'

// Requests that meet a SIGTERM: the real entry point (src/server.ts) in its own process, clients on
// keep-alive connections sending as fast as they are answered, and SIGTERM in the middle of it. Every
// request must end cleanly: answered (its work done, or refused with 503 SHUTTING_DOWN before any work),
// or its connection refused before the request was sent. A reset of a connection that carried a request
// (ECONNRESET, "socket hang up") leaves the client unable to know whether it was handled: never that.
//
// Run from the sources through the TypeScript loader tap gives this test (see server-process.ts for why).

/** Clients and requests: bounded, so the test ends in seconds on any machine. */
const CLIENTS = 24
const SIGTERM_AFTER = 600
const PER_CLIENT_LIMIT = 200

interface Answer {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}
type Outcome = { kind: 'answered'; answer: Answer; sendRef?: string } | { kind: 'failed'; code: string }

function send(
  agent: Agent,
  port: number,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

t.test('a burst of requests across SIGTERM: each one answered or refused, never reset', async (t) => {
  const dbFile = join(tempDir(t), 'chatserver.db')
  const { child, port, exited } = await startServerProcess(t, dbFile, {
    RATE_LIMIT_SEND: 'off',
    RATE_LIMIT_LOGIN: 'off',
  })

  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS })
  t.teardown(() => agent.destroy())
  const login = await send(agent, port, {
    method: 'POST',
    path: '/v1/users/login',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ava@temp.com', password: 'password' }),
  })
  t.equal(login.status, 200)
  const { token } = JSON.parse(login.body) as { token: string }

  const outcomes: Outcome[] = []
  let sigtermSent = false
  const sendSigterm = () => {
    if (sigtermSent) return
    sigtermSent = true
    child.kill('SIGTERM')
  }
  let sendCount = 0

  // Each client sends one request after another on the shared keep-alive pool: mostly pings, every
  // fourth a message. It stops as a client behind a load balancer would: at a 503 (the server says it is
  // going away) or a refused connection (it is gone), or after its share of requests.
  async function client(index: number): Promise<void> {
    for (let n = 0; n < PER_CLIENT_LIMIT; n += 1) {
      const isSend = (index + n) % 4 === 0
      const sendRef = isSend ? `burst-${index}-${n}-${++sendCount}` : undefined
      try {
        const answer = isSend
          ? await send(agent, port, {
              method: 'POST',
              path: '/v1/messages/group/1',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ content: sendRef, client_msg_id: sendRef }),
            })
          : await send(agent, port, { method: 'GET', path: '/ping' })
        outcomes.push({ kind: 'answered', answer, ...(sendRef && { sendRef }) })
        if (outcomes.length >= SIGTERM_AFTER) sendSigterm()
        if (answer.status === 503) return
      } catch (error) {
        outcomes.push({ kind: 'failed', code: String((error as NodeJS.ErrnoException).code ?? error) })
        return
      }
    }
  }

  const started = Date.now()
  await Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index)))
  sendSigterm()
  t.same(await exited, { code: 0, signal: null }, 'the server exited 0')
  t.comment(`${outcomes.length} requests in ${Date.now() - started} ms`)

  const failures = outcomes.filter((outcome) => outcome.kind === 'failed')
  const refusedConnections = failures.filter((outcome) => outcome.code === 'ECONNREFUSED')
  const broken = failures.filter((outcome) => outcome.code !== 'ECONNREFUSED')
  const answers = outcomes.flatMap((outcome) => (outcome.kind === 'answered' ? [outcome.answer] : []))
  const unavailable = answers.filter((answer) => answer.status === 503)
  t.comment(
    `answered ${answers.length} (503: ${unavailable.length}), connection refused ${refusedConnections.length}, ` +
      `broken ${broken.length}`,
  )
  t.ok(outcomes.length >= SIGTERM_AFTER, 'the burst reached SIGTERM')
  t.same(
    broken.map((outcome) => outcome.code),
    [],
    'no request lost its connection after it was sent (no reset, no hang-up)',
  )
  t.same(
    answers.filter((answer) => ![200, 201, 503].includes(answer.status)).map((answer) => answer.status),
    [],
    'every answer is a success or a 503',
  )
  for (const answer of unavailable) {
    t.same(
      JSON.parse(answer.body),
      {
        error: 'The server is shutting down; retry shortly (another instance may answer).',
        code: 'SHUTTING_DOWN',
        statusCode: 503,
      },
      'a 503 has the error body with its code',
    )
    t.equal(answer.headers.connection, 'close', 'and closes its connection')
    t.ok(Number(answer.headers['retry-after']) >= 1, 'and says when to retry')
    if (!t.passing()) break
  }

  // A send answered 201 was stored; one refused with 503 was not.
  const db = new BetterSqlite3(dbFile, { readonly: true })
  t.teardown(() => db.close())
  const stored = new Set(
    (db.prepare('SELECT client_msg_id FROM messages WHERE group_id = 1').all() as Array<{ client_msg_id: string }>).map(
      (row) => row.client_msg_id,
    ),
  )
  const sends = outcomes.filter(
    (outcome): outcome is Extract<Outcome, { kind: 'answered' }> =>
      outcome.kind === 'answered' && outcome.sendRef !== undefined,
  )
  t.ok(
    sends.some((outcome) => outcome.answer.status === 201),
    'messages were stored during the burst',
  )
  t.same(
    sends.filter((outcome) => outcome.answer.status === 201 && !stored.has(outcome.sendRef!)).map((o) => o.sendRef),
    [],
    'every acknowledged message is in the file',
  )
  t.same(
    sends.filter((outcome) => outcome.answer.status === 503 && stored.has(outcome.sendRef!)).map((o) => o.sendRef),
    [],
    'no refused message was stored',
  )
})
