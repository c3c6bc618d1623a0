import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { tempDir } from '../helpers.js'

// Starts the server exactly as the README does (`npm start`, in its own process, on the
// embedded defaults) and runs the seed's walkthrough against it. Only the port differs: 0, read
// back from the seed's log line, because tests never take a fixed port.

const repoRoot = join(import.meta.dirname, '..', '..')

async function startServer(t: Test, dbFile: string): Promise<string> {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DB_FILE: dbFile, NODE_ENV: 'development', JWT_SECRET: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
    // Its own process group, so the teardown stops npm and the server it started together.
    detached: true,
  })
  t.teardown(async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM')
    await exited
  })
  const lines = createInterface({ input: child.stdout })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not log its start line within 90 s')), 90_000)
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}`)))
    lines.on('line', (line) => {
      const match = /Server running on (http:\/\/localhost:\d+)/.exec(line)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
  })
}

t.test('the seed walkthrough, verbatim, against `npm start`', async (t) => {
  const dir = tempDir(t)
  const baseUrl = await startServer(t, join(dir, 'chatserver.db'))

  const login = async (email: string) => {
    const res = await fetch(`${baseUrl}/v1/users/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: 'password' }),
    })
    t.equal(res.status, 200, `${email} logs in with the default password`)
    return (await res.json()) as { token: string; user: { id: number } }
  }
  const ava = await login('ava@temp.com')
  const mike = await login('mike@temp.com')
  t.type(ava.token, 'string', '`jq -r .token` finds a token')

  const mikeSocket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws?token=${mike.token}`)
  t.teardown(() => mikeSocket.terminate())
  const received = new Promise<Record<string, unknown>>((resolve) =>
    mikeSocket.on('message', (data) => resolve(JSON.parse(data.toString()) as Record<string, unknown>)),
  )
  await new Promise((resolve, reject) => {
    mikeSocket.once('open', resolve)
    mikeSocket.once('error', reject)
  })

  const GROUP_ID = 1
  const res = await fetch(`${baseUrl}/v1/messages/group/${GROUP_ID}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ava.token}` },
    body: '{"content": "This is the final test message."}',
  })
  t.equal(res.status, 201)

  const frame = await received
  t.match(frame, {
    type: 'group_message',
    group_id: 1,
    sender_id: ava.user.id,
    content: 'This is the final test message.',
  })
  t.type(frame.id, 'number')
  t.match(String(frame.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'an ISO-8601 UTC timestamp')
})
