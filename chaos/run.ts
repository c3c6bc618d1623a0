import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runChaos } from './harness.js'

// `npm run chaos`: builds, then kills the real server (`node dist/src/server.js`) with SIGKILL
// CHAOS_KILLS times (default 25) while clients send, and checks that no acknowledged message was lost
// or stored twice. Progress goes to stderr; the last line on stdout is the JSON summary. Exits 1 when
// anything acknowledged was lost, duplicated or changed.
//
// CHAOS_KILLS (25) · CHAOS_SEED (random) · CHAOS_USERS (4) · CHAOS_REST_PER_USER (2) · CHAOS_SOCKETS_PER_USER (1)
// CHAOS_SOCKET_WINDOW (16) · CHAOS_KILL_MIN_MS (200) · CHAOS_KILL_MAX_MS (1500) · CHAOS_LOG_LEVEL (info)
// CHAOS_KEEP=1 keeps the temporary folder (database and server log) for inspection.

function whole(name: string, fallback: number, minimum = 0): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < minimum) {
    console.error(`${name} must be a whole number of at least ${minimum}, not "${raw}"`)
    process.exit(2)
  }
  return value
}

const repoRoot = join(import.meta.dirname, '..', '..')
const workDir = mkdtempSync(join(tmpdir(), 'chatserver-chaos-'))
const keep = process.env.CHAOS_KEEP === '1'
const killMin = whole('CHAOS_KILL_MIN_MS', 200)

try {
  const seed = process.env.CHAOS_SEED ? whole('CHAOS_SEED', 0) : undefined
  const { summary, problems } = await runChaos({
    kills: whole('CHAOS_KILLS', 25, 1),
    server: { command: process.execPath, args: [join(repoRoot, 'dist', 'src', 'server.js')], cwd: repoRoot },
    workDir,
    users: whole('CHAOS_USERS', 4, 1),
    restSendersPerUser: whole('CHAOS_REST_PER_USER', 2),
    socketsPerUser: whole('CHAOS_SOCKETS_PER_USER', 1),
    socketWindow: whole('CHAOS_SOCKET_WINDOW', 16, 1),
    killAfterMs: { min: killMin, max: whole('CHAOS_KILL_MAX_MS', 1500, killMin) },
    logLevel: process.env.CHAOS_LOG_LEVEL || 'info',
    ...(seed === undefined ? {} : { seed }),
    progress: (line) => console.error(line),
  })
  for (const problem of problems) console.error(`PROBLEM: ${problem}`)
  if (keep || !summary.ok) console.error(`database and server log kept in ${workDir}`)
  console.log(JSON.stringify(summary))
  process.exitCode = summary.ok ? 0 : 1
  if (!keep && summary.ok) rmSync(workDir, { recursive: true, force: true })
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error)
  console.error(`database and server log kept in ${workDir}`)
  process.exitCode = 1
}
