import { randomBytes } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { benchScript, freePort, repoRoot, spawnNode, stopProcess, tail, waitForHttp } from './procs.js'

/** A process listening on 127.0.0.1: the real server or a floor. */
export interface Listener {
  name: string
  url: string
  wsUrl: string
  pid: number
  child: ChildProcess
  logFile: string
  /** Log lines at warn level or above so far (pino JSON lines; level ≥ 40). */
  warnings(): number
  stop(): Promise<void>
}

/** One strong secret per run: every server start on the bench database accepts the tokens minted earlier. */
const JWT_SECRET = randomBytes(48).toString('base64url')

let starts = 0

async function listen(
  name: string,
  script: string,
  args: string[],
  options: { env?: Record<string, string>; nodeArgs?: string[]; workDir: string; port?: number },
): Promise<Listener> {
  const port = options.port ?? (await freePort())
  const logFile = join(options.workDir, `${name}-${++starts}.log`)
  const child = spawnNode(name, script, args, {
    env: { PORT: String(port), ...options.env },
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
    // Not the repository: the server reads a `.env` from its working directory, and a developer's must not leak in.
    cwd: options.workDir,
    logFile,
  })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${url}/ping`, child)
  } catch (error) {
    await stopProcess(child, 1000)
    throw new Error(`${name} did not start: ${(error as Error).message}\n${tail(logFile)}`, { cause: error })
  }
  return {
    name,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: child.pid!,
    child,
    logFile,
    warnings() {
      let count = 0
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        const level = /"level":(\d+)/.exec(line)?.[1]
        if (level && Number(level) >= 40) count += 1
      }
      return count
    },
    stop: () => stopProcess(child),
  }
}

/**
 * The real server: `node dist/src/server.js`, production settings, a fresh (or pre-filled) database file;
 * `env` adds settings (PostgreSQL and Redis for the scale-out scenario) and `name` tells instances apart.
 */
export function startChatServer(options: {
  /** The SQLite file; leave it out when `env` names a DATABASE_URL. */
  dbFile?: string
  workDir: string
  cpuProfDir?: string
  env?: Record<string, string>
  name?: string
}): Promise<Listener> {
  return listen(options.name ?? 'server', join(repoRoot, 'dist', 'src', 'server.js'), [], {
    workDir: options.workDir,
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      ...(options.dbFile !== undefined ? { DB_FILE: options.dbFile } : {}),
      JWT_SECRET,
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      // The benchmark is one client machine hammering one server: the abuse limits would measure
      // themselves, not the server. Everything else stays at its production default.
      RATE_LIMIT_REGISTER: 'off',
      RATE_LIMIT_LOGIN: 'off',
      RATE_LIMIT_LOGIN_EMAIL: 'off',
      RATE_LIMIT_SEND: 'off',
      WS_MAX_SOCKETS_PER_USER: '0',
      WS_MAX_FRAMES_PER_SECOND: '0',
      ...options.env,
    },
    ...(options.cpuProfDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] } : {}),
  })
}

/** A floor server from bench/floors (its own process, its port from PORT). */
export function startFloor(script: string, args: string[], workDir: string): Promise<Listener> {
  return listen(script.replace(/^floors\/|\.js$/g, ''), benchScript(script), args, { workDir })
}
