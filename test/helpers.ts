import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { buildApp, type BuildAppOptions } from '../src/app.js'

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

/** A ready app on its own temporary SQLite file, closed when the test ends. */
export async function build(t: Teardown, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const dir = tempDir(t)
  const app = await buildApp({
    dbFile: join(dir, 'test.db'),
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
