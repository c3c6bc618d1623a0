import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'

// The real entry point (src/server.ts) in a process of its own, run from the sources through the same
// TypeScript loader tap gives the test, not from dist/: `npm start` in the walkthrough test rebuilds dist/
// while the tests run in parallel, and a process started from a half-written dist/ would fail for reasons
// that have nothing to do with the test.

const repoRoot = join(import.meta.dirname, '..', '..')
const loaderArgs = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript') || arg === '--enable-source-maps')

export interface ServerProcess {
  child: ChildProcess
  /** The port it listens on, on 127.0.0.1. */
  port: number
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Everything it wrote, stdout lines and stderr chunks. */
  log: string[]
}

/**
 * Starts the server on port 0 of 127.0.0.1 with `DB_FILE` and the given environment, resolves once it
 * logged its start line, and kills it at the end of the test if it is still running.
 */
export async function startServerProcess(t: Test, dbFile: string, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
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
      ...env,
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
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line within 90 s:\n${log.join('\n')}`)), 90_000)
    void exited.then(({ code }) => reject(new Error(`the server exited with ${code}:\n${log.join('\n')}`)))
    lines.on('line', (line) => {
      log.push(line)
      const match = /Server running on http:\/\/localhost:(\d+)/.exec(line)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
  })
  return { child, port, exited, log }
}
