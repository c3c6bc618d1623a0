import type { Group, GroupMember, Role } from '../schemas/group.js'
import { conflict, forbidden, groupFull, groupNotFound, notAMember, userNotFound } from './errors.js'
import type { Budget } from './limits.js'
import type { MemberAddedOut } from '../schemas/frames/index.js'
import type { GroupStore, Hub, UserStore } from './ports.js'

/** Owners and admins manage membership. */
export const canManageMembers = (role: Role) => role === 'owner' || role === 'admin'

/**
 * Resolves the caller's role in the group. Refuses with 404 when the group does not exist and
 * 403 when the caller is not a member.
 */
export async function requireMembership(groups: GroupStore, groupId: number, userId: number): Promise<Role> {
  const role = await groups.roleOf(groupId, userId)
  if (role) return role
  if (!(await groups.find(groupId))) throw groupNotFound()
  throw notAMember()
}

/**
 * Creates a group owned by its creator. A user who already owns `maxOwned` groups is refused with 409
 * TOO_MANY_GROUPS (checked before the insert, so concurrent creations may pass it together by a few).
 */
export async function createGroup(
  groups: GroupStore,
  ownerId: number,
  name: string,
  maxOwned = Number.POSITIVE_INFINITY,
): Promise<Group> {
  if (Number.isFinite(maxOwned) && (await groups.ownedCount(ownerId)) >= maxOwned) {
    throw conflict(
      'TOO_MANY_GROUPS',
      `You own ${maxOwned} groups, the most allowed: delete one or hand it over before creating another.`,
    )
  }
  return groups.create(ownerId, name.trim(), new Date().toISOString())
}

/** The caller's groups, each with the caller's role. */
export function listGroups(groups: GroupStore, userId: number): Promise<Group[]> {
  return groups.listForUser(userId)
}

export async function listMembers(groups: GroupStore, callerId: number, groupId: number): Promise<GroupMember[]> {
  await requireMembership(groups, groupId, callerId)
  return groups.members(groupId)
}

export const memberAddedFrame = (groupId: number, userId: number): MemberAddedOut => ({
  type: 'member_added',
  group_id: groupId,
  user_id: userId,
})

/**
 * Adds a user to a group as a member, then tells every member (the new one included). Only the owner
 * or an admin may; adding someone who is already a member succeeds and changes nothing (`added: false`,
 * no frame). A group that already holds `maxMembers` refuses anyone new with 409 GROUP_FULL. Each new
 * member is charged to their `memberAdds` budget (how often one user may be added to groups by others):
 * past it 429 RATE_LIMITED, nothing changed.
 */
export async function addMember(
  ports: { groups: GroupStore; users: UserStore; hub: Hub; memberAdds?: Budget },
  callerId: number,
  groupId: number,
  userId: number,
  maxMembers = Number.POSITIVE_INFINITY,
): Promise<{ added: boolean }> {
  const callerRole = await requireMembership(ports.groups, groupId, callerId)
  if (!canManageMembers(callerRole)) {
    throw forbidden('NOT_GROUP_ADMIN', 'Only the group’s owner or an admin can add members.')
  }
  if (!(await ports.users.findById(userId))) throw userNotFound()
  // Checked before the insert, so concurrent adds to an almost full group may pass it together.
  if (await ports.groups.roleOf(groupId, userId)) return { added: false }
  const group = await ports.groups.find(groupId)
  if (group && group.member_count >= maxMembers) throw groupFull(maxMembers)
  // The caller is a member already, so whoever is new here is added by someone else.
  await ports.memberAdds?.charge(userId)
  const added = await ports.groups.addMember(groupId, userId, 'member', new Date().toISOString())
  if (added) ports.hub.publish(await ports.groups.memberIds(groupId), memberAddedFrame(groupId, userId))
  return { added }
}
