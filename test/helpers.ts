import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import pg from 'pg'
import WebSocket from 'ws'
import { ensureSchema, openPostgres, openSqlite } from '../plugins/db.js'
import { buildApp, type BuildAppOptions } from '../src/app.js'
import type { Database } from '../src/database.js'

/** The tap test object, as far as the helpers need it. */
interface Teardown {
  teardown(fn: () => unknown): void
}

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz'

/** A fresh temporary folder, removed when the test ends. */
export function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatserver-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `TEST_DATABASE=postgres` (`npm run test:pg`) puts every `build(t)` and `testDb(t)` on PostgreSQL. */
export const TEST_ON_POSTGRES = process.env.TEST_DATABASE === 'postgres'
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'

/**
 * A new schema name on the test PostgreSQL, dropped with all in it when the test ends. Call it before
 * building what uses it: teardowns run last-added first, so the drop comes after the app has closed.
 */
export function freshSchema(t: Teardown): string {
  // `npm run test:pg` names its run, and drops what a killed test left behind under that name.
  const run = process.env.TEST_RUN_ID ? `${process.env.TEST_RUN_ID}_` : ''
  const schema = `t_${run}${randomBytes(8).toString('hex')}`
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
    await client.connect()
    try {
      await client.query(`drop schema if exists "${schema}" cascade`)
    } finally {
      await client.end()
    }
  })
  return schema
}

/**
 * A database the test holds itself (to pass as the `db` option and read the rows behind the API): a
 * temporary SQLite file, or a fresh PostgreSQL schema under TEST_DATABASE=postgres. Not migrated yet;
 * the app migrates it. The test destroys it; the schema is dropped after that.
 */
export async function testDb(t: Teardown): Promise<Kysely<Database>> {
  if (!TEST_ON_POSTGRES) return openSqlite(join(tempDir(t), 'test.db'))
  const schema = freshSchema(t)
  const db = openPostgres({ url: TEST_DATABASE_URL, schema })
  await ensureSchema(db, schema)
  return db
}

/** Whether the test PostgreSQL answers within a few seconds. */
async function postgresReachable(url = TEST_DATABASE_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Options for a test that needs PostgreSQL: `{ skip: <why> }` when it does not answer, so the test is
 * skipped with that message; under CI=true its absence throws instead, and fails the run.
 */
export async function needsPostgres(): Promise<{ skip?: string }> {
  if (await postgresReachable()) return {}
  const where = TEST_DATABASE_URL.replace(/\/\/[^@/]*@/, '//')
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is unreachable at ${where}, and CI=true requires it`)
  return { skip: `PostgreSQL is unreachable at ${where} (set TEST_DATABASE_URL)` }
}

/**
 * A ready app on its own temporary SQLite file (or, under TEST_DATABASE=postgres, its own PostgreSQL
 * schema), closed when the test ends. A `db`, `dbFile` or `databaseUrl` option chooses the database instead.
 */
export async function build(t: Teardown, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const dir = tempDir(t)
  const chosen = options.db !== undefined || options.dbFile !== undefined || options.databaseUrl !== undefined
  const app = await buildApp({
    ...(TEST_ON_POSTGRES && !chosen
      ? { databaseUrl: TEST_DATABASE_URL, databaseSchema: freshSchema(t) }
      : { dbFile: join(dir, 'test.db') }),
    env: {},
    jwtSecret: TEST_SECRET,
    demoData: false,
    ...options,
  })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

export interface Account {
  id: number
  token: string
  username: string
  auth: { authorization: string }
}

let counter = 0
/** Registers a new user with a unique name and returns its id and token. */
export async function register(app: FastifyInstance, name = 'user'): Promise<Account> {
  counter += 1
  const username = `${name}${counter}`
  const res = await app.inject({
    method: 'POST',
    url: '/v1/users/register',
    payload: { username, email: `${username}@example.com`, password: 'correct horse battery' },
  })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  const body = res.json<{ token: string; user: { id: number } }>()
  return { id: body.user.id, token: body.token, username, auth: { authorization: `Bearer ${body.token}` } }
}

/** Creates a group owned by `owner` with the given members added. */
export async function createGroup(app: FastifyInstance, owner: Account, members: Account[] = [], name = 'team') {
  const res = await app.inject({ method: 'POST', url: '/v1/groups', headers: owner.auth, payload: { name } })
  if (res.statusCode !== 201) throw new Error(`create group failed: ${res.statusCode} ${res.body}`)
  const groupId = res.json<{ id: number }>().id
  for (const member of members) {
    const added = await app.inject({
      method: 'POST',
      url: `/v1/groups/${groupId}/members`,
      headers: owner.auth,
      payload: { user_id: member.id },
    })
    if (added.statusCode !== 200) throw new Error(`add member failed: ${added.statusCode} ${added.body}`)
  }
  return groupId
}

/** Listens on an ephemeral port on loopback and returns it. */
export async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  return address.port
}

export type Frame = Record<string, unknown> & { type: string }

/** A real WebSocket client that records every frame it receives. */
export class Client {
  readonly frames: Frame[] = []
  private waiters: Array<() => void> = []

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame)
      for (const wake of this.waiters.splice(0)) wake()
    })
  }

  /** Opens `/ws?token=` and resolves once the socket is open. */
  static async connect(t: Teardown, port: number, token: string, query = ''): Promise<Client> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}${query}`)
    const client = new Client(socket)
    t.teardown(() => socket.terminate())
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    return client
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Resolves with the first received frame matching `match` (already received or yet to come). */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.find(match)
      if (found) return found
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Sends a frame with a fresh `ref` and resolves with the `ack`, `error` or `pong` that echoes it. */
  async request(frame: Record<string, unknown>): Promise<Frame> {
    const ref = `r${++counter}`
    this.send({ ...frame, ref })
    return this.waitFor((f) => f.ref === ref)
  }
}

/** Resolves with the HTTP status the server answered an upgrade request with, or 101 when it upgraded. */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    socket.once('open', () => {
      socket.terminate()
      resolve(101)
    })
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0)
      socket.terminate()
    })
    socket.once('error', (error) => {
      if (!String(error.message).startsWith('Unexpected server response')) reject(error)
    })
  })
}

/** Waits a little for frames that must not arrive. */
export const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms))
