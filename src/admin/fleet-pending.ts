import { PURGE_CONFIRM_TIMEOUT_MS } from '../sessions/session-service.ts'

/**
 * What an admin answer says about replicas that did not confirm a purge in time (paused, or cut
 * off from Redis): until one hears of it, it may still hand out the old sessions from its memory.
 * Named, so an SRE knows which pod to look at (a replica is named after its host: the pod).
 */
export function unconfirmedPurge (replicas: string[] | null): string[] {
  if (replicas === null) return ['fleet-wide purge: whether every replica heard it cannot be known (Redis failed while it was announced, or its roll of replicas could not be read); replicas check the secret version before any login, and a purge that was not announced is announced again when Redis answers']
  if (replicas.length === 0) return []
  const named = replicas.length === 1 ? `replica ${replicas[0]} has` : `replicas ${replicas.join(', ')} have`
  return [`fleet-wide purge: ${named} not confirmed dropping the old sessions within ${PURGE_CONFIRM_TIMEOUT_MS / 1000} s; until ${replicas.length === 1 ? 'it does, it' : 'they do, they'} may still hand them out`]
}
