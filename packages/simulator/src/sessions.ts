import { newAccessToken } from './ids.ts'
import { orgNow } from './org-state.ts'
import type { SimOrgState, SimUserState } from './types.ts'

export type SessionFlow = 'soap' | 'oauth_password' | 'jwt_bearer' | 'client_credentials'

export interface SimSession {
  accessToken: string
  orgKey: string
  userId: string
  username: string
  flow: SessionFlow
  issuedAt: number
  /** when the idle timeout last started over: the login, then the last call made in the second half of a window */
  activeAt: number
  /** logged in with an expired password: every API call but SetPassword is refused */
  passwordExpired: boolean
  /** the connected app / External Client App of an OAuth login (its original consumer key); absent for SOAP */
  clientId?: string
}

/**
 * Issued sessions. The org's session timeout is an idle timeout (Salesforce Help, "Modify Session
 * Security Settings": "The last active session time value isn't updated until halfway through the
 * timeout period"; quoted at salesforce.stackexchange.com/questions/228678): a session lives until
 * activeAt + the org's current timeout, and a call made in the second half of that window starts it
 * over; one made in the first half does not. A revoke or expireSessions() ends it at once.
 */
export class SessionStore {
  readonly #sessions = new Map<string, SimSession>()

  issue (org: SimOrgState, user: SimUserState, flow: SessionFlow, now = orgNow(org), clientId?: string): SimSession {
    const session: SimSession = {
      accessToken: newAccessToken(org.orgId),
      orgKey: org.key,
      userId: user.userId,
      username: user.username,
      flow,
      issuedAt: now,
      activeAt: now,
      passwordExpired: user.passwordExpired && (flow === 'soap' || flow === 'oauth_password'),
      ...(clientId === undefined ? {} : { clientId }),
    }
    this.#sessions.set(session.accessToken, session)
    return session
  }

  /**
   * SOAP login() hands every client of the same user the same session while it is valid
   * (SOAP API guide, "Choosing a User for an Integration"), so one logout ends it for all.
   */
  reuseSoapSession (org: SimOrgState, user: SimUserState, now = orgNow(org)): SimSession | undefined {
    for (const session of this.#sessions.values()) {
      if (session.orgKey === org.key && session.userId === user.userId && session.flow === 'soap' &&
        session.passwordExpired === user.passwordExpired && this.#alive(session, org, now)) {
        return session
      }
    }
    return undefined
  }

  /** The session behind a token, or undefined when unknown, revoked or timed out. A call with it is activity (see above). */
  find (token: string, orgs: ReadonlyMap<string, SimOrgState>, now?: number): SimSession | undefined {
    const session = this.#sessions.get(token)
    if (!session) return undefined
    const org = orgs.get(session.orgKey)
    const at = org === undefined ? 0 : now ?? orgNow(org)
    if (!org || !this.#alive(session, org, at)) {
      this.#sessions.delete(token)
      return undefined
    }
    if (at - session.activeAt >= org.sessionTimeoutSeconds * 500) session.activeAt = at
    return session
  }

  revoke (token: string): boolean {
    return this.#sessions.delete(token)
  }

  expireOrg (orgKey?: string): void {
    for (const [token, session] of this.#sessions) {
      if (orgKey === undefined || session.orgKey === orgKey) this.#sessions.delete(token)
    }
  }

  #alive (session: SimSession, org: SimOrgState, now: number): boolean {
    return now < session.activeAt + org.sessionTimeoutSeconds * 1000
  }
}
