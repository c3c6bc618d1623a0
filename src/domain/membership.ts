import type { Group, Role } from '../schemas/group.js'
import { conflict, forbidden, groupNotFound, notFound } from './errors.js'
import { canManageMembers, requireMembership } from './groups.js'
import type { GroupDeletedOut, GroupUpdatedOut, MemberRemovedOut } from '../schemas/frames/index.js'
import type { GroupStore, Hub } from './ports.js'

// Group roles and management: rename, delete, promote/demote/transfer, remove and leave.
// Every change is written first and then announced to the members' sockets through the hub.

export interface MembershipPorts {
  groups: GroupStore
  hub: Hub
}

export const notGroupOwner = (message = 'Only the group’s owner can do that.') => forbidden('NOT_GROUP_OWNER', message)
export const memberNotFound = () => notFound('MEMBER_NOT_FOUND', 'That user is not a member of this group.')

/** A group as every member sees it: without the per-viewer `role`. */
function sharedView(group: Group): Omit<Group, 'role'> {
  const { role: _viewerRole, ...shared } = group
  return shared
}

/** `group_updated`: the group after the change; after a role change also the members whose role changed. */
export function groupUpdatedFrame(group: Group, roles?: Array<{ user_id: number; role: Role }>): GroupUpdatedOut {
  return { type: 'group_updated', ...sharedView(group), ...(roles ? { roles } : {}) }
}

export const memberRemovedFrame = (groupId: number, userId: number): MemberRemovedOut => ({
  type: 'member_removed',
  group_id: groupId,
  user_id: userId,
})

export const groupDeletedFrame = (groupId: number): GroupDeletedOut => ({ type: 'group_deleted', group_id: groupId })

/** The caller's role, refusing with 403 NOT_GROUP_OWNER unless it is `owner` (404/403 as `requireMembership`). */
async function requireOwner(groups: GroupStore, groupId: number, callerId: number): Promise<void> {
  const role = await requireMembership(groups, groupId, callerId)
  if (role !== 'owner') throw notGroupOwner()
}

/** Renames the group (owner only) and sends `group_updated` to every member. Resolves the group as the caller sees it. */
export async function renameGroup(
  ports: MembershipPorts,
  callerId: number,
  groupId: number,
  name: string,
): Promise<Group> {
  await requireOwner(ports.groups, groupId, callerId)
  const group = await ports.groups.rename(groupId, name.trim(), new Date().toISOString())
  if (!group) throw groupNotFound()
  ports.hub.publish(await ports.groups.memberIds(groupId), groupUpdatedFrame(group))
  return { ...group, role: 'owner' }
}

/**
 * Deletes the group (owner only) with its members, messages and reactions, then sends
 * `group_deleted` to the sockets of everyone who was a member.
 */
export async function deleteGroup(ports: MembershipPorts, callerId: number, groupId: number): Promise<void> {
  await requireOwner(ports.groups, groupId, callerId)
  const memberIds = await ports.groups.memberIds(groupId)
  if (!(await ports.groups.remove(groupId))) throw groupNotFound()
  ports.hub.publish(memberIds, groupDeletedFrame(groupId))
}

export interface RoleChange {
  user_id: number
  role: Role
  previous_role: Role
  changed: boolean
  owner_id: number
}

/**
 * Owner only. `admin`/`member` promotes or demotes another member; `owner` transfers ownership
 * (the old owner becomes admin) in one transaction. Setting the role a member already has changes
 * nothing. The owner's own role changes only by transferring: asking otherwise is 409.
 */
export async function changeRole(
  ports: MembershipPorts,
  callerId: number,
  groupId: number,
  userId: number,
  role: Role,
): Promise<RoleChange> {
  await requireOwner(ports.groups, groupId, callerId)
  const previous = await ports.groups.roleOf(groupId, userId)
  if (!previous) throw memberNotFound()
  const unchanged = { user_id: userId, role: previous, previous_role: previous, changed: false, owner_id: callerId }
  if (previous === role) return unchanged
  if (userId === callerId) {
    throw conflict(
      'OWNER_MUST_TRANSFER',
      'The owner’s role changes only by making another member the owner (role "owner").',
    )
  }

  let roles: Array<{ user_id: number; role: Role }>
  if (role === 'owner') {
    const moved = await ports.groups.transferOwnership(groupId, callerId, userId, new Date().toISOString())
    if (!moved) throw changedMeanwhile()
    roles = [
      { user_id: userId, role: 'owner' },
      { user_id: callerId, role: 'admin' },
    ]
  } else {
    // Only from the role just read, so a concurrent change is not overwritten unseen.
    if (!(await ports.groups.setRole(groupId, userId, role, [previous]))) throw changedMeanwhile()
    roles = [{ user_id: userId, role }]
  }

  const group = await ports.groups.find(groupId)
  if (!group) throw groupNotFound()
  ports.hub.publish(await ports.groups.memberIds(groupId), groupUpdatedFrame(group, roles))
  return { user_id: userId, role, previous_role: previous, changed: true, owner_id: group.owner_id }
}

const changedMeanwhile = () =>
  conflict('MEMBERSHIP_CHANGED', 'The group’s membership changed at the same time; read it again and retry.')

/** Which roles the caller may remove `userId` from, or the refusal. */
function removableRoles(callerId: number, callerRole: Role, userId: number, targetRole: Role): readonly Role[] {
  if (userId === callerId) {
    if (callerRole === 'owner') {
      throw conflict('OWNER_CANNOT_LEAVE', 'The owner cannot leave; make another member the owner first.')
    }
    return [callerRole]
  }
  if (targetRole === 'owner') throw forbidden('CANNOT_REMOVE_OWNER', 'Nobody can remove the group’s owner.')
  if (callerRole === 'owner') return ['admin', 'member']
  if (targetRole === 'admin') throw notGroupOwner('Only the group’s owner can remove an admin.')
  return ['member']
}

/**
 * Removes a member, or lets the caller leave when `userId` is the caller. Owner and admins remove
 * members; only the owner removes admins; nobody removes the owner, who must transfer ownership
 * before leaving. Afterwards `member_removed` goes to the remaining members and the removed user.
 */
export async function removeMember(
  ports: MembershipPorts,
  callerId: number,
  groupId: number,
  userId: number,
): Promise<{ left: boolean }> {
  const callerRole = await requireMembership(ports.groups, groupId, callerId)
  const leaving = userId === callerId
  if (!leaving && !canManageMembers(callerRole)) {
    throw forbidden('NOT_GROUP_ADMIN', 'Only the group’s owner or an admin can remove members.')
  }
  const targetRole = leaving ? callerRole : await ports.groups.roleOf(groupId, userId)
  if (!targetRole) throw memberNotFound()
  const roles = removableRoles(callerId, callerRole, userId, targetRole)
  if (!(await ports.groups.removeMember(groupId, userId, roles))) throw changedMeanwhile()
  const remaining = await ports.groups.memberIds(groupId)
  ports.hub.publish([...remaining, userId], memberRemovedFrame(groupId, userId))
  return { left: leaving }
}
