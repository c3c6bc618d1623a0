import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { IpcClient, type Api } from './ipc.js'

/** dist/bench (where the compiled scripts live) and the repository root. */
const benchDist = dirname(dirname(fileURLToPath(import.meta.url)))
export const repoRoot = resolve(benchDist, '..', '..')
export const benchScript = (relative: string) => join(benchDist, relative)

// Everything this run starts, so that any exit path can stop it and remove it.
const children = new Set<ChildProcess>()
const tempDirs = new Set<string>()

export function makeTempDir(prefix = 'chat-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

/** Kills whatever is still running (SIGKILL: by now graceful stops have had their chance) and removes temp dirs. */
export function cleanupAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  children.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

/** Cleans up on every way out: normal exit, an uncaught error, Ctrl-C, or a kill from outside. */
export function installCleanupHandlers(): void {
  process.on('exit', cleanupAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`bench: ${signal}, stopping everything it started`)
      cleanupAll()
      process.exit(130)
    })
  }
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>
  nodeArgs?: string[]
  cwd?: string
  /** Send the child's stdout and stderr to this file (default: inherit the bench's stderr). */
  logFile?: string
  ipc?: boolean
}

/**
 * Starts `node <script>` through `sh` so the soft open-files limit can be raised to the hard limit first
 * (thousands of sockets per process); `exec` keeps the pid the node process's pid.
 */
export function spawnNode(name: string, script: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const out = options.logFile ? openSync(options.logFile, 'a') : 'inherit'
  const stdio: ('ignore' | 'inherit' | 'ipc' | number)[] = [
    'ignore',
    out === 'inherit' ? 1 : out,
    out === 'inherit' ? 2 : out,
  ]
  if (options.ipc) stdio.push('ipc')
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"',
      'sh',
      process.execPath,
      ...(options.nodeArgs ?? []),
      script,
      ...args,
    ],
    { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, stdio },
  )
  if (typeof out === 'number') closeSync(out)
  children.add(child)
  child.once('exit', () => children.delete(child))
  child.once('error', (error) => console.error(`bench: ${name} failed to start: ${error.message}`))
  return child
}

/** A client process (bench/clients or bench/floors) that answers typed calls over IPC. */
export function startClient<A extends Api>(name: string, relativeScript: string, args: string[] = []): IpcClient<A> {
  const child = spawnNode(name, benchScript(relativeScript), args, { ipc: true })
  return new IpcClient<A>(name, child)
}

/** Stops a process: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** A port that was free a moment ago on 127.0.0.1 (the server is then told to listen on it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

/** Polls `url` until it answers 200, failing early if the process exits. */
export async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`process exited (${child.signalCode ?? child.exitCode}) before answering ${url}`)
    }
    try {
      const response = await fetch(url)
      await response.arrayBuffer()
      if (response.ok) return
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`)
}

export const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms))

/** Resident memory of a process in KiB, from /proc/<pid>/status (Linux). */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1])
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** The soft RLIMIT_NOFILE of a running process. */
export function fdLimit(pid: number): number {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))
  return match?.[1] && match[1] !== 'unlimited' ? Number(match[1]) : Number.POSITIVE_INFINITY
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** CPU time a process has used so far, in seconds (user + system, from /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the whole line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/** USER_HZ: 100 on every Linux the bench targets (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100

/** CPU time the whole machine has spent busy so far (all cores, from /proc/stat), in seconds. */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .split(/\s+/)
  return [user, nice, system, irq, softirq, steal].reduce((sum, value) => sum + Number(value), 0) / CLOCK_TICKS
}
