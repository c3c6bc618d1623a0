/**
 * Scenario sizes, from the environment. Defaults are the full sizes of issue 5; `BENCH_QUICK=1` shrinks
 * everything for a smoke run of about a minute. Any single knob can be set on its own.
 */
const quick = process.env.BENCH_QUICK === '1'

function int(name: string, full: number, small: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return quick ? small : full
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not ${raw}`)
  return value
}

function list(name: string, full: number[], small: number[]): number[] {
  const raw = process.env[name]
  if (!raw) return quick ? small : full
  return raw.split(',').map((part) => {
    const value = Number(part.trim())
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a comma-separated list of counts`)
    return value
  })
}

const SCENARIOS = ['fanout', 'scaleout', 'send', 'idle', 'history', 'login'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

function only(): Set<ScenarioName> {
  const raw = process.env.BENCH_ONLY
  if (!raw) return new Set(SCENARIOS)
  const names = raw.split(',').map((name) => name.trim())
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`BENCH_ONLY: unknown scenario ${name}; choose from ${SCENARIOS.join(', ')}`)
    }
  }
  return new Set(names as ScenarioName[])
}

export const config = {
  quick,
  only: only(),
  /**
   * Client processes sharing the fan-out's receiving sockets. One by default: on a 2-core machine every extra
   * busy process takes CPU from the server under test (with 1, server + receivers + sender fill 2 cores).
   */
  clientProcesses: int('BENCH_CLIENT_PROCS', 1, 1),
  /** Floor and server are measured in alternating rounds, the best of each reported (see context.ts). */
  rounds: int('BENCH_ROUNDS', 2, 1),
  /** HTTP connections of the senders and load generators. */
  concurrency: int('BENCH_CONCURRENCY', 16, 16),
  fanout: {
    members: int('BENCH_FANOUT_MEMBERS', 1000, 100),
    /** Closed-loop messages (each delivered to every member). */
    messages: int('BENCH_FANOUT_MESSAGES', 1500, 200),
    /** Closed-loop rounds, alternating server and floor; the messages are split over them. */
    rounds: int('BENCH_FANOUT_ROUNDS', 3, 1),
    warmup: int('BENCH_FANOUT_WARMUP', 200, 20),
    pacedSeconds: int('BENCH_FANOUT_PACED_SECONDS', 10, 2),
    /** The paced run's rate in messages/s; 0 = half of what the server sustained closed-loop. */
    pacedRate: int('BENCH_FANOUT_RATE', 0, 0),
  },
  scaleout: {
    /** PostgreSQL the instances share (a fresh schema per run, dropped after it). */
    databaseUrl: process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    /** Redis the instances fan out through (a channel prefix of the run's own). */
    redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
  },
  send: {
    listeners: int('BENCH_SEND_LISTENERS', 100, 20),
    /** Per round. */
    seconds: int('BENCH_SEND_SECONDS', 5, 2),
  },
  idle: {
    steps: list('BENCH_IDLE_SOCKETS', [10_000, 20_000], [500, 1000]),
    clientProcesses: int('BENCH_IDLE_CLIENT_PROCS', 4, 2),
    /** Users in no group, whose tokens the idle sockets share (no presence traffic between them). */
    users: int('BENCH_IDLE_USERS', 200, 20),
  },
  history: {
    groups: int('BENCH_HISTORY_GROUPS', 1000, 100),
    messages: int('BENCH_HISTORY_MESSAGES', 1_000_000, 20_000),
    chatListGroups: int('BENCH_CHAT_LIST_GROUPS', 50, 10),
    /** Per round and connection count. */
    seconds: int('BENCH_HISTORY_SECONDS', 4, 2),
  },
  login: {
    /** Per round. */
    seconds: int('BENCH_LOGIN_SECONDS', 5, 2),
    connections: int('BENCH_LOGIN_CONNECTIONS', 8, 8),
  },
  /** Profile the server during the fan-out (`--cpu-prof`; it slows the server, so the figures are marked). */
  cpuProfile: process.env.BENCH_CPU_PROF === '1',
}

export type BenchConfig = typeof config
