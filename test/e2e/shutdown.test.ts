import { existsSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import WebSocket from 'ws'
import { CloseCode } from '../../plugins/realtime/guard.js'
import { tempDir } from '../helpers.js'
import { startServerProcess } from './server-process.js'

// Graceful shutdown of the real entry point (src/server.ts, close-with-grace) in its own process:
// SIGTERM closes the open socket with 1001, the process exits 0 and the database is closed cleanly.
// The server runs from the sources (see server-process.ts for why).

t.test('SIGTERM closes every socket with 1001, lets the process exit 0 and closes the database', async (t) => {
  const dbFile = join(tempDir(t), 'chatserver.db')
  const { child, port, exited, log } = await startServerProcess(t, dbFile)
  const baseUrl = `http://127.0.0.1:${port}`

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
