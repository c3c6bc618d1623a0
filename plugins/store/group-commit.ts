import { sql, type Transaction } from 'kysely'
import type { Database, DB } from '../../src/database.js'

type Work<T> = (trx: Transaction<Database>) => Promise<T>

interface Job {
  work: Work<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/**
 * Group commit: writes that arrive together share one transaction, so a burst of sends pays for one
 * commit instead of one each (a SQLite commit writes every page it touched to the WAL; a PostgreSQL one
 * waits for its WAL to reach the disk; either costs more than the insert). A batch is what arrived within
 * one turn of the event loop, plus whatever arrived while the batch before it was committing; one batch
 * runs at a time. Each write still succeeds or fails on its own (a savepoint apiece), runs in arrival
 * order, and resolves only after the shared commit, in that order.
 */
export class GroupCommit {
  private queue: Job[] = []
  private draining = false

  /** `begin` runs first in every batch's transaction (PostgreSQL takes its ordering lock there). */
  constructor(
    private readonly db: DB,
    private readonly begin?: (trx: Transaction<Database>) => Promise<void>,
  ) {}

  /** Runs `work` in the next shared transaction; resolves with its result once that has committed. */
  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
      // Started after the I/O callbacks of this turn (setImmediate), so requests that arrived together meet.
      if (!this.draining && this.queue.length === 1) setImmediate(() => void this.drain())
    })
  }

  private async drain(): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue
        this.queue = []
        await this.commit(batch)
      }
    } finally {
      this.draining = false
    }
  }

  private async commit(jobs: Job[]): Promise<void> {
    const outcomes: Outcome[] = []
    try {
      await this.db.transaction().execute(async (trx) => {
        await this.begin?.(trx)
        if (jobs.length === 1) {
          outcomes.push({ ok: true, value: await jobs[0]!.work(trx) })
          return
        }
        for (const job of jobs) outcomes.push(await isolated(trx, job.work))
      })
    } catch (error) {
      // The commit failed (or the one write did): nothing of this batch is stored.
      for (const job of jobs) job.reject(error)
      return
    }
    jobs.forEach((job, index) => {
      const outcome = outcomes[index]!
      if (outcome.ok) job.resolve(outcome.value)
      else job.reject(outcome.error)
    })
  }
}

/** Runs one write of a batch inside a savepoint, so its failure undoes it alone. */
async function isolated(trx: Transaction<Database>, work: Work<unknown>): Promise<Outcome> {
  await sql`savepoint batched_write`.execute(trx)
  try {
    const value = await work(trx)
    await sql`release savepoint batched_write`.execute(trx)
    return { ok: true, value }
  } catch (error) {
    await sql`rollback to savepoint batched_write`.execute(trx)
    await sql`release savepoint batched_write`.execute(trx)
    return { ok: false, error }
  }
}
