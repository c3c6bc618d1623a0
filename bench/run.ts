import { execSync } from 'node:child_process'
import { copyFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { config, type ScenarioName } from './lib/config.js'
import { createReporter, type BenchContext } from './lib/context.js'
import { round } from './lib/histogram.js'
import { cleanupAll, installCleanupHandlers, makeTempDir, repoRoot } from './lib/procs.js'
import { emailOf, PASSWORD, seedDatabase, usernameOf } from './lib/seed.js'
import { startChatServer } from './lib/server.js'
import { fanout } from './scenarios/fanout.js'
import { history } from './scenarios/history.js'
import { idle } from './scenarios/idle.js'
import { login } from './scenarios/login.js'
import { scaleout } from './scenarios/scaleout.js'
import { send } from './scenarios/send.js'

/**
 * `npm run bench`: builds a database, mints tokens, then runs each scenario against the real server
 * (`node dist/src/server.js`, a new process per scenario) from separate client processes, printing one
 * JSON line per scenario (also written to bench/results/). Sizes: see lib/config.ts.
 */

const scenarios: Record<ScenarioName, (ctx: BenchContext) => Promise<void>> = {
  fanout,
  scaleout,
  send,
  idle,
  history,
  login,
}

const log = (message: string) => console.error(`bench: ${message}`)

function gitDescription(): string {
  try {
    const commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot, encoding: 'utf8' }).trim()
    const dirty = execSync('git status --porcelain -- src plugins routes migrations', {
      cwd: repoRoot,
      encoding: 'utf8',
    })
    return dirty.trim() ? `${commit}+uncommitted` : commit
  } catch {
    return 'unknown'
  }
}

/** Logs users in through the API, a few at a time (each login is one argon2id verification). */
async function mintTokens(url: string, userIds: number[], concurrency = 8): Promise<Map<number, string>> {
  const tokens = new Map<number, string>()
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < userIds.length) {
        const id = userIds[next++]!
        const response = await fetch(`${url}/v1/users/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: emailOf(id), password: PASSWORD }),
        })
        const body = (await response.json()) as { token?: string; user?: { id: number } }
        if (response.status !== 200 || !body.token || body.user?.id !== id) {
          throw new Error(`login of user ${id} answered ${response.status}: ${JSON.stringify(body)}`)
        }
        tokens.set(id, body.token)
      }
    }),
  )
  return tokens
}

async function prepare(workDir: string): Promise<Omit<BenchContext, 'emit' | 'emitted'>> {
  const dbFile = join(workDir, 'bench.db')
  const fanUsers = Math.max(config.fanout.members, config.send.listeners + 1)

  // 1. The server creates and migrates the database; user 1 registers through the API (the server hashes).
  let server = await startChatServer({ dbFile, workDir })
  try {
    const response = await fetch(`${server.url}/v1/users/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: usernameOf(1), email: emailOf(1), password: PASSWORD }),
    })
    if (response.status !== 201) throw new Error(`register answered ${response.status}: ${await response.text()}`)
  } finally {
    await server.stop()
  }

  // 2. Everything else directly, with the server stopped.
  let started = performance.now()
  const layout = seedDatabase(dbFile, {
    fanUsers,
    listeners: config.send.listeners,
    historyGroups: config.history.groups,
    historyMessages: config.history.messages,
    chatListGroups: config.history.chatListGroups,
    idleUsers: config.idle.users,
  })
  log(
    `seeded ${layout.lastIdleUser} users, ${config.history.messages} messages in ${round((performance.now() - started) / 1000, 1)} s`,
  )

  // 3. Tokens by logging in, once per user who needs one; every later server start accepts them.
  started = performance.now()
  server = await startChatServer({ dbFile, workDir })
  try {
    const ids = Array.from({ length: layout.lastIdleUser }, (_, i) => i + 1)
    const tokens = await mintTokens(server.url, ids)
    log(`logged in ${tokens.size} users in ${round((performance.now() - started) / 1000, 1)} s`)
    return { config, workDir, dbFile, layout, tokens }
  } finally {
    await server.stop()
  }
}

async function main(): Promise<number> {
  installCleanupHandlers()
  const startedAt = new Date()
  const reporter = createReporter(startedAt)
  const cpu = cpus()
  reporter.emit({
    scenario: 'run',
    started_at: startedAt.toISOString(),
    commit: gitDescription(),
    quick: config.quick,
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memory_gib: round(totalmem() / 2 ** 30, 1),
      kernel: release(),
      node: process.version,
      // Other work on the machine skews every figure: the load before the bench starts tells.
      loadavg_1_5_15: loadavg().map((value) => round(value, 2)),
    },
    config: { ...config, only: [...config.only] },
  })

  const [load1] = loadavg()
  log(`Node.js ${process.version} on ${cpu.length} cores (${cpu[0]?.model ?? 'unknown'})`)
  if (load1 !== undefined && load1 > cpu.length / 2) {
    log(`the machine is busy (load ${load1.toFixed(1)} on ${cpu.length} cores): expect noisy figures`)
  }
  const workDir = makeTempDir()
  const failed: string[] = []
  try {
    const emitted: Record<string, unknown>[] = []
    const emit = (line: Record<string, unknown>) => {
      emitted.push(line)
      reporter.emit(line)
    }
    const ctx: BenchContext = { ...(await prepare(workDir)), emit, emitted }
    for (const name of Object.keys(scenarios) as ScenarioName[]) {
      if (!config.only.has(name)) continue
      const started = performance.now()
      log(`scenario ${name}...`)
      try {
        await scenarios[name](ctx)
      } catch (error) {
        failed.push(name)
        log(`scenario ${name} failed: ${(error as Error).stack ?? String(error)}`)
        reporter.emit({ scenario: name, error: (error as Error).message })
      }
      log(`scenario ${name} took ${round((performance.now() - started) / 1000, 1)} s`)
    }
  } finally {
    cleanupAll()
  }
  const wall = round((Date.now() - startedAt.getTime()) / 1000, 1)
  reporter.emit({
    scenario: 'summary',
    node: process.version,
    wall_s: wall,
    failed,
    loadavg_1_5_15: loadavg().map((value) => round(value, 2)),
  })
  copyFileSync(reporter.file, join(repoRoot, 'bench', 'results', 'latest.jsonl'))
  log(`results: ${reporter.file}`)
  return failed.length ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error)
    cleanupAll()
    process.exit(1)
  },
)
