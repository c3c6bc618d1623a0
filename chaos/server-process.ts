import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

/** How to start the real server: a program, its arguments and its working directory. */
export interface ServerCommand {
  command: string
  args: string[]
  cwd: string
  /** Added to the environment after the harness's own settings (so it can override them). */
  env?: Record<string, string | undefined>
}

/** One running server process. */
export interface RunningServer {
  child: ChildProcess
  baseUrl: string
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<string>
}

const START_LINE = /Server running on http:\/\/localhost:(\d+)/

/**
 * Spawns the server with `env` and waits for its start line, which names the port it bound (it is
 * started on port 0). Its output is appended to `logFile` rather than piped, so a busy harness never
 * slows the server down by reading its logs late.
 */
export async function startServer(
  command: ServerCommand,
  env: Record<string, string>,
  logFile: string,
  timeoutMs = 90_000,
): Promise<RunningServer> {
  const fd = openSync(logFile, 'a')
  const startOffset = readFileSync(logFile).length
  let child: ChildProcess
  try {
    child = spawn(command.command, command.args, {
      cwd: command.cwd,
      env: { ...process.env, ...env, ...command.env },
      stdio: ['ignore', fd, fd],
    })
  } finally {
    closeSync(fd)
  }
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`)),
  )
  let exitedEarly: string | undefined
  void exited.then((how) => (exitedEarly = how))

  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const output = readFileSync(logFile).subarray(startOffset).toString('utf8')
    const match = START_LINE.exec(output)
    if (match?.[1]) return { child, baseUrl: `http://127.0.0.1:${match[1]}`, exited }
    if (exitedEarly !== undefined) {
      throw new Error(`the server exited (${exitedEarly}) before its start line:\n${output.slice(-2000)}`)
    }
    await sleep(20)
  }
  child.kill('SIGKILL')
  await exited
  throw new Error(`the server did not log "Server running on ..." within ${timeoutMs} ms (log: ${logFile})`)
}

/** `kill -9`: the process gets no chance to flush, close or finish anything. */
export async function killHard(server: RunningServer): Promise<string> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
  return server.exited
}

/** SIGTERM (graceful shutdown), then SIGKILL if it has not exited within `graceMs`. */
export async function stopGracefully(server: RunningServer, graceMs = 15_000): Promise<string> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.exited
  server.child.kill('SIGTERM')
  const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs)
  try {
    return await server.exited
  } finally {
    clearTimeout(timer)
  }
}
