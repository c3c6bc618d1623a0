import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import WebSocket from 'ws'
import { CloseCode } from '../../plugins/realtime/guard.js'
import { tempDir } from '../helpers.js'

// Graceful shutdown of the real entry point (src/server.ts, close-with-grace) in its own process:
// SIGTERM closes the open socket with 1001, the process exits 0 and the database is closed cleanly.
//
// The server runs from the sources through the same TypeScript loader tap gives this test, not from
// dist/: `npm start` in the walkthrough test rebuilds dist/ while the tests run in parallel, and a
// process started from a half-written dist/ would fail for reasons that have nothing to do with this.

const repoRoot = join(import.meta.dirname, '..', '..')
const loaderArgs = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript') || arg === '--enable-source-maps')

t.test('SIGTERM closes every socket with 1001, lets the process exit 0 and closes the database', async (t) => {
  const dbFile = join(tempDir(t), 'chatserver.db')
  const child = spawn(process.execPath, [...loaderArgs, join('src', 'server.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DB_FILE: dbFile,
      NODE_ENV: 'development',
      JWT_SECRET: '',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const log: string[] = []
  child.stderr.on('data', (chunk: Buffer) => log.push(chunk.toString()))
  const lines = createInterface({ input: child.stdout })
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line within 90 s:\n${log.join('\n')}`)), 90_000)
    void exited.then(({ code }) => reject(new Error(`the server exited with ${code}:\n${log.join('\n')}`)))
    lines.on('line', (line) => {
      log.push(line)
      const match = /Server running on http:\/\/localhost:(\d+)/.exec(line)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(`http://127.0.0.1:${match[1]}`)
      }
    })
  })

  // Ava (demo data) opens a socket and sends a message over it, acknowledged as stored.
  const login = await fetch(`${baseUrl}/v1/users/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'ava@temp.com', password: 'password' }),
  })
  t.equal(login.status, 200)
  const { token } = (await login.json()) as { token: string }
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws?token=${token}`)
  t.teardown(() => socket.terminate())
  const frames: Array<Record<string, unknown>> = []
  socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>))
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  socket.send(JSON.stringify({ type: 'group_message', group_id: 1, content: 'before the restart', ref: 'm1' }))
  await new Promise<void>((resolve) => socket.on('message', () => frames.some((f) => f.ref === 'm1') && resolve()))
  t.match(
    frames.find((frame) => frame.ref === 'm1'),
    { type: 'ack' },
    'the message was acknowledged',
  )

  child.kill('SIGTERM')
  const { code, reason } = await closed
  t.equal(code, CloseCode.GOING_AWAY, 'the socket was closed with 1001 going away, so the client reconnects')
  t.equal(reason, 'server shutting down')
  t.same(await exited, { code: 0, signal: null }, 'the process exited 0')
  t.match(log.join('\n'), /SIGTERM received, shutting down/)

  // SQLite removes the write-ahead log when the last connection closes cleanly.
  t.notOk(existsSync(`${dbFile}-wal`), 'the database was closed (its WAL checkpointed and removed)')
  const db = new BetterSqlite3(dbFile, { readonly: true })
  t.teardown(() => db.close())
  const stored = db.prepare('SELECT content FROM messages WHERE group_id = 1').all() as Array<{ content: string }>
  t.same(
    stored.map((row) => row.content),
    ['before the restart'],
    'the acknowledged message is in the file',
  )
})
