import { sql } from 'kysely'
import { isPostgres } from '../../migrations/dialect.js'
import type { DB } from '../../src/database.js'
import type { GroupStore } from '../../src/domain/ports.js'
import type { Group } from '../../src/schemas/group.js'
import { MemberIdsCache } from './member-cache.js'

export function createGroupStore(db: DB, { cacheMembers }: { cacheMembers: boolean }): GroupStore {
  // On PostgreSQL other instances change members without telling this one: read them every time there.
  const memberCache = cacheMembers && !isPostgres(db) ? new MemberIdsCache(db) : undefined
  const readMemberIds = async (groupId: number) => {
    const rows = await db
      .selectFrom('group_members')
      .select('user_id')
      .where('group_id', '=', groupId)
      .orderBy('user_id')
      .execute()
    return rows.map((row) => row.user_id)
  }

  // A correlated count keeps one query per read; the (group_id, user_id) primary key answers it.
  const memberCount = sql<number>`(select count(*) from group_members counted where counted.group_id = groups.id)`.as(
    'member_count',
  )

  const toGroup = (row: {
    id: number
    name: string
    owner_id: number
    created_at: string
    member_count: number | string | null
    role?: Group['role']
  }): Group => ({
    id: row.id,
    group_id: row.id,
    name: row.name,
    owner_id: row.owner_id,
    created_at: row.created_at,
    member_count: Number(row.member_count ?? 0),
    ...(row.role ? { role: row.role } : {}),
  })

  return {
    async ownedCount(userId) {
      // The owner is the one member with role `owner`: counted through the members' (user_id, group_id) index.
      const row = await db
        .selectFrom('group_members')
        .select((eb) => eb.fn.countAll<number | string>().as('owned'))
        .where('user_id', '=', userId)
        .where('role', '=', 'owner')
        .executeTakeFirst()
      return Number(row?.owned ?? 0)
    },

    async create(ownerId, name, now) {
      const created = await db.transaction().execute(async (trx) => {
        const group = await trx
          .insertInto('groups')
          .values({ name, owner_id: ownerId, created_at: now, updated_at: now })
          .returning(['id', 'name', 'owner_id', 'created_at'])
          .executeTakeFirstOrThrow()
        await trx
          .insertInto('group_members')
          .values({ group_id: group.id, user_id: ownerId, role: 'owner', joined_at: now })
          .execute()
        return toGroup({ ...group, member_count: 1, role: 'owner' })
      })
      // A send to the id before it existed may have remembered it with no members.
      memberCache?.forget(created.id)
      return created
    },

    async find(groupId) {
      const row = await db
        .selectFrom('groups')
        .select(['id', 'name', 'owner_id', 'created_at'])
        .select(memberCount)
        .where('id', '=', groupId)
        .executeTakeFirst()
      return row && toGroup(row)
    },

    async listForUser(userId) {
      const rows = await db
        .selectFrom('group_members as mine')
        .innerJoin('groups', 'groups.id', 'mine.group_id')
        .select(['groups.id', 'groups.name', 'groups.owner_id', 'groups.created_at', 'mine.role'])
        .select(memberCount)
        .where('mine.user_id', '=', userId)
        .orderBy('groups.id')
        .execute()
      return rows.map(toGroup)
    },

    async roleOf(groupId, userId) {
      const row = await db
        .selectFrom('group_members')
        .select('role')
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .executeTakeFirst()
      return row?.role
    },

    members(groupId) {
      return db
        .selectFrom('group_members')
        .innerJoin('users', 'users.id', 'group_members.user_id')
        .select(['group_members.user_id', 'users.username', 'group_members.role', 'group_members.joined_at'])
        .where('group_members.group_id', '=', groupId)
        .orderBy('group_members.user_id')
        .execute()
    },

    memberIds(groupId) {
      return memberCache ? memberCache.get(groupId, () => readMemberIds(groupId)) : readMemberIds(groupId)
    },

    async addMember(groupId, userId, role, now) {
      const result = await db
        .insertInto('group_members')
        .values({ group_id: groupId, user_id: userId, role, joined_at: now })
        .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
        .executeTakeFirst()
      memberCache?.forget(groupId)
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0
    },

    async rename(groupId, name, now) {
      const row = await db
        .updateTable('groups')
        .set({ name, updated_at: now })
        .where('id', '=', groupId)
        .returning(['id', 'name', 'owner_id', 'created_at'])
        .returning(memberCount)
        .executeTakeFirst()
      return row && toGroup(row)
    },

    async remove(groupId) {
      // The foreign keys cascade: members, messages and the messages' reactions go with it.
      const result = await db.deleteFrom('groups').where('id', '=', groupId).executeTakeFirst()
      memberCache?.forget(groupId)
      return Number(result.numDeletedRows) > 0
    },

    async setRole(groupId, userId, role, fromRoles) {
      if (fromRoles.length === 0) return false
      const result = await db
        .updateTable('group_members')
        .set({ role })
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .where('role', 'in', fromRoles)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) > 0
    },

    async transferOwnership(groupId, fromUserId, toUserId, now) {
      if (fromUserId === toUserId) return false
      try {
        await db.transaction().execute(async (trx) => {
          // Each step is conditional on the state the caller checked; any miss rolls all of it back.
          const steps = [
            trx
              .updateTable('group_members')
              .set({ role: 'owner' })
              .where('group_id', '=', groupId)
              .where('user_id', '=', toUserId)
              .where('role', '!=', 'owner'),
            trx
              .updateTable('group_members')
              .set({ role: 'admin' })
              .where('group_id', '=', groupId)
              .where('user_id', '=', fromUserId)
              .where('role', '=', 'owner'),
          ]
          for (const step of steps) {
            if (Number((await step.executeTakeFirst()).numUpdatedRows) === 0) throw new TransferRefused()
          }
          const moved = await trx
            .updateTable('groups')
            .set({ owner_id: toUserId, updated_at: now })
            .where('id', '=', groupId)
            .where('owner_id', '=', fromUserId)
            .executeTakeFirst()
          if (Number(moved.numUpdatedRows) === 0) throw new TransferRefused()
        })
        return true
      } catch (error) {
        if (error instanceof TransferRefused) return false
        throw error
      }
    },

    async removeMember(groupId, userId, roles) {
      if (roles.length === 0) return false
      const result = await db
        .deleteFrom('group_members')
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .where('role', 'in', roles)
        .executeTakeFirst()
      memberCache?.forget(groupId)
      return Number(result.numDeletedRows) > 0
    },
  }
}

/** Thrown inside the transfer transaction to roll it back when the state changed under it. */
class TransferRefused extends Error {}
