import { sql } from 'kysely'
import type { DB } from '../../src/database.js'

/**
 * The member ids of recently used groups, kept between reads on SQLite: every send reads them (to check
 * the sender and to name the receivers), and a big group is many rows. An entry holds while this process
 * has not changed that group's members (`forget`) and no other connection has written to the database
 * file since it was read (SQLite's `data_version` changes then), so several processes may share one file.
 */
export class MemberIdsCache {
  private readonly byGroup = new Map<number, readonly number[]>()
  /** Bumped by every forget and reset: a read that started before one does not store what it read. */
  private generation = 0
  private dataVersion: number | undefined

  constructor(
    private readonly db: DB,
    private readonly maxGroups = 1000,
  ) {}

  /** The group's member ids, from memory when they still hold, else from `load` (and remembered). */
  async get(groupId: number, load: () => Promise<number[]>): Promise<readonly number[]> {
    const { rows } = await sql<{ data_version: number }>`pragma data_version`.execute(this.db)
    const version = rows[0]?.data_version
    if (version !== this.dataVersion) {
      this.byGroup.clear()
      this.generation += 1
      this.dataVersion = version
    }
    const cached = this.byGroup.get(groupId)
    if (cached) return cached
    const generation = this.generation
    const ids = await load()
    if (generation === this.generation) {
      if (this.byGroup.size >= this.maxGroups) this.byGroup.delete(this.byGroup.keys().next().value as number)
      this.byGroup.set(groupId, ids)
    }
    return ids
  }

  /** Drops the group's entry after this process changed its members. */
  forget(groupId: number): void {
    this.byGroup.delete(groupId)
    this.generation += 1
  }
}
